package org.sparseft.driver.train;

import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * What the fine-tuning tests share: a tiny LLaMA written as an HF checkpoint where executors load it by path and
 * content hash, and a fixed set of token blocks.
 */
final class FrozenModels {
    static final LlamaConfig TINY = LlamaConfig.of(32, 16, 16, 32, 2, 4, 2, true);

    record Base(String dir, String hash, Parameters parameters) {
    }

    private FrozenModels() {
    }

    /** A seeded tiny checkpoint under {@code dir}. */
    static Base write(Path dir, long seed) throws IOException {
        Storage storage = HadoopStorage.withDefaults();
        String uri = dir.toUri().toString();
        Parameters base = Parameters.initialize(TINY, seed, DataType.FLOAT);
        HfCheckpointWriter.write(storage, uri, HfConfig.of(TINY, "float32"), base.toEntries(DType.F32), Map.of(),
                Map.of(), 0, false);
        try (HfCheckpoint c = HfCheckpoint.open(storage, uri)) {
            return new Base(uri, c.contentHash(), base);
        }
    }

    /** 24 blocks of 8 tokens with some structure to learn. */
    static List<int[]> blocks() {
        return blocks(24);
    }

    /** {@code n} blocks of 8 tokens: learnable, not uniform; the first of them the same whatever {@code n}. */
    static List<int[]> blocks(int n) {
        Random r = new Random(7);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] b = new int[8];
            for (int j = 0; j < 8; j++) {
                b[j] = (i + j * j + r.nextInt(3)) % TINY.vocabSize();
            }
            out.add(b);
        }
        return out;
    }
}
