package org.sparseft.model;

import org.sparseft.BadInputException;

import java.util.List;
import java.util.Map;

/**
 * The architecture of a decoder-only model, as read from a Hugging Face {@code config.json}. One record per
 * family; each validates itself, so an inconsistent config is refused before any weight is read. Serializable: Spark
 * tasks carry it to executors.
 */
public sealed interface ModelConfig extends java.io.Serializable permits Gpt2Config, LlamaConfig {

    /** The {@code model_type} string of config.json. */
    String modelType();

    int vocabSize();

    int hiddenSize();

    int numLayers();

    int numHeads();

    int maxPositions();

    boolean tieWordEmbeddings();

    /** Names of the prunable linears inside block {@code layer}, in forward order (docs/algorithms.md §1.2). */
    List<String> prunableLinears(int layer);

    /** The weight names of every block's prunable linears, block after block. */
    default List<String> prunableWeights() {
        List<String> out = new java.util.ArrayList<>();
        for (int l = 0; l < numLayers(); l++) {
            prunableLinears(l).forEach(n -> out.add(n + ".weight"));
        }
        return out;
    }

    /**
     * Every tensor a checkpoint of this architecture holds, with its shape in the checkpoint's own layout
     * (GPT-2 Conv1D weights are [in, out]); the tied LM head is not listed.
     */
    Map<String, long[]> expectedTensors();

    /** Trainable parameter count, counting a tied head once. */
    default long parameterCount() {
        long n = 0;
        for (long[] shape : expectedTensors().values()) {
            long p = 1;
            for (long d : shape) {
                p *= d;
            }
            n += p;
        }
        return n;
    }

    static void require(boolean ok, String field, String expectation) {
        if (!ok) {
            throw new BadInputException("config field '" + field + "': " + expectation);
        }
    }
}
