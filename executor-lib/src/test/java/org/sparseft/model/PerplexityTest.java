package org.sparseft.model;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.eval.Perplexity;
import org.sparseft.model.ops.CrossEntropy;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PerplexityTest {
    @Test
    void untrainedModelIsNearTheVocabularySize() {
        // Initial weights are N(0, 0.02): logits are nearly uniform, so perplexity is close to the vocabulary size
        // (a little below: with the head tied to the embedding, repeating the current token is slightly favoured).
        DecoderModel m = DecoderModel.of(Parameters.initialize(Gpt2Config.of(50, 16, 16, 2, 2), 1, DataType.FLOAT));
        List<int[]> windows = List.of(new int[] {1, 2, 3, 4, 5, 6, 7, 8}, new int[] {9, 8, 7, 6, 5, 4, 3, 2},
                new int[] {0, 0, 0, 0, 49, 49, 49, 49});
        Perplexity.Result r = Perplexity.of(Perplexity.windowNlls(m, windows, 2, EffectiveWeights.DENSE), 8);
        assertEquals(3, r.windows());
        assertTrue(r.perplexity() > 0.85 * 50 && r.perplexity() < 1.1 * 50, "perplexity " + r.perplexity());
    }

    @Test
    void unigramBaselineByHand() {
        // fit: token 0 three times, token 1 once; vocabulary 3, add-one: p = 4/7, 2/7, 1/7
        List<int[]> fit = List.of(new int[] {0, 0, 1, 0});
        Perplexity.Result r = Perplexity.unigramBaseline(fit, List.of(new int[] {2, 0, 1}), 3);
        double expected = -(Math.log(4.0 / 7) + Math.log(2.0 / 7)) / 2; // the first token is not predicted
        assertEquals(Math.exp(expected), r.perplexity(), 1e-12);
    }

    @Test
    void windowMeansAreOverTheirTMinusOnePredictions() {
        DecoderModel m = DecoderModel.of(Parameters.initialize(Gpt2Config.of(20, 8, 8, 1, 2), 2, DataType.DOUBLE));
        int[] w = {3, 1, 4, 1, 5};
        double[] nll = Perplexity.windowNlls(m, List.of(w), 1, EffectiveWeights.DENSE);
        INDArray logits = m.logits(w, 1, 5, EffectiveWeights.DENSE);
        double sum = 0;
        for (int j = 0; j < 4; j++) { // row j predicts token j+1
            sum += CrossEntropy.compute(logits.getRow(j).reshape(1, 20), new int[] {w[j + 1]}, false).loss();
        }
        assertEquals(sum / 4, nll[0], 1e-12);
        assertEquals(Math.exp((0.5 + 1.5) / 2), Perplexity.of(new double[] {0.5, 1.5}, 5).perplexity(), 1e-12,
                "exp of the mean of window means");
    }
}
