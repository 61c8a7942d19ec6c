package org.sparseft.model;

import org.sparseft.BadInputException;

import java.util.List;
import java.util.Map;

/**
 * The architecture of a decoder-only model, as read from a Hugging Face {@code config.json}. One record per
 * family; each validates itself, so an inconsistent config is refused before any weight is read. Serializable: Spark
 * tasks carry it to executors.
 */
public sealed interface ModelConfig extends java.io.Serializable permits Gpt2Config, LlamaConfig, OptConfig {

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

    /** The config.json field holding the number of blocks ({@code n_layer}, {@code num_hidden_layers}). */
    String layersField();

    /** The block a tensor belongs to, by canonical name, or -1 for a tensor outside the blocks. */
    long layerOf(String canonicalName);

    /** The tensors of block {@code layer}, in checkpoint order and layout (a slice of {@link #expectedTensors()}). */
    Map<String, long[]> layerTensors(int layer);

    /**
     * The tensors that turn token ids into block 0's input (token and position embeddings, OPT's input projection):
     * all a layer-by-layer pass needs before the blocks.
     */
    List<String> embeddingTensors();

    /**
     * The tensors that turn the last block's output into logits: the final norm, OPT's output projection and the LM
     * head (the token embedding when tied, the first of {@link #embeddingTensors()}).
     */
    default List<String> headTensors() {
        List<String> out = new java.util.ArrayList<>();
        for (String name : expectedTensors().keySet()) {
            if (layerOf(name) < 0 && !embeddingTensors().contains(name)) {
                out.add(name);
            }
        }
        if (tieWordEmbeddings()) {
            out.add(embeddingTensors().get(0));
        }
        return out;
    }

    /**
     * A config.json field that one dimension of a checkpoint tensor shows: {@code expectedTensors().get(tensor)[dim]}
     * follows from it, so a tensor of another size there means the field disagrees with the weights.
     *
     * @param value the field's value as the message shows it (with what else enters the size)
     */
    record SizeField(String field, String value, String tensor, int dim) {
    }

    /** The size fields that tensors show, each with the first tensor that shows it (block 0 for per-block sizes). */
    List<SizeField> sizeFields();

    /** The block index in {@code name} after {@code prefix} (e.g. "model.layers."), -1 when there is none. */
    static long layerAfter(String prefix, String name) {
        if (!name.startsWith(prefix)) {
            return -1;
        }
        int end = name.indexOf('.', prefix.length());
        String digits = name.substring(prefix.length(), end < 0 ? name.length() : end);
        if (digits.isEmpty() || !digits.chars().allMatch(Character::isDigit)) {
            return -1;
        }
        return digits.length() > 18 ? Long.MAX_VALUE : Long.parseLong(digits);
    }

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
