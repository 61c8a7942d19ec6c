package org.sparseft.jobs.finetune;

import org.junit.jupiter.api.Test;
import org.sparseft.ast.AstOptions;
import org.sparseft.ast.Distillation;
import org.sparseft.pst.PstOptions;
import org.sparseft.sparsity.SparsityPattern;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The methods' settings as a resume compares them are exactly the text earlier runs recorded in their
 * {@code state.json} (these strings were copied from such files), so those runs stay resumable.
 */
class ResumeKeysTest {
    @Test
    void pstKeysReadAsEarlierRunsRecordedThem() {
        assertEquals("PstOptions[target=Unstructured[ratio=0.5], weightRank=2, maskRank=2, alpha1=1.0, alpha2=1.0,"
                        + " beta=1.0, initialWarmup=0.1, finalWarmup=0.3]",
                PstFinetune.resumeKey(new PstOptions(new SparsityPattern.Unstructured(0.5), 2, 2, 1, 1, 1, 0.1, 0.3)));
        assertEquals("PstOptions[target=NOutOfM[n=2, m=4], weightRank=8, maskRank=8, alpha1=1.0, alpha2=1.0, beta=1.0,"
                + " initialWarmup=0.1, finalWarmup=0.3]", PstFinetune.resumeKey(PstOptions.defaults(
                new SparsityPattern.NOutOfM(2, 4))));
        // OWL's block sparsities are part of the key, only when there are some
        PstOptions owl = PstOptions.defaults(new SparsityPattern.Unstructured(0.5))
                .withBlockSparsity(new double[] {0.4, 0.6});
        assertEquals("PstOptions[target=Unstructured[ratio=0.5], weightRank=8, maskRank=8, alpha1=1.0, alpha2=1.0,"
                + " beta=1.0, initialWarmup=0.1, finalWarmup=0.3, blockSparsity=[0.4, 0.6]]",
                PstFinetune.resumeKey(owl));
        assertEquals(0.24, owl.sparsityOfBlock(0, 0.3), 1e-12, "the block's share of the scheduled sparsity");
        assertEquals(0.6, owl.sparsityOfBlock(1, 0.5), 1e-12, "the block's own at the end");
    }

    @Test
    void astKeysReadAsEarlierRunsRecordedThem() {
        assertEquals("AstOptions[pattern=NOutOfM[n=2, m=4], reselectEvery=2, decayMax=6.0E-5, decayRamp=0.25,"
                        + " distillation=Distillation[temperature=2.0, taskWeight=0.33, klWeight=0.67], slorbGroup=4]",
                AstFinetune.resumeKey(new AstOptions(new SparsityPattern.NOutOfM(2, 4), 2, 6e-5, 0.25,
                        Distillation.GPT2, 4)));
    }
}
