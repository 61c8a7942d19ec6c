package org.sparseft.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.sparseft.model.ModelConfig.require;

/**
 * OPT ({@code OPTForCausalLM}): learned positions read at offset 2, LayerNorm before (or, as in OPT-350m, after) each
 * sub-layer, separate q/k/v/out projections and {@code fc1}/{@code fc2} with biases, ReLU, weights stored [out, in],
 * LM head tied to the token embedding by default. When the embedding width {@code word_embed_proj_dim} differs from
 * the hidden size, {@code project_in} and {@code project_out} (no bias) map between them.
 *
 * @param maxPositions usable positions; the position table has two more rows (OPT's offset)
 * @param layerNormBefore {@code do_layer_norm_before}: pre-LN blocks and a final LayerNorm; false: post-LN, none
 * @param finalLayerNorm whether the decoder ends with a LayerNorm (pre-LN without {@code _remove_final_layer_norm})
 */
public record OptConfig(int vocabSize, int maxPositions, int hiddenSize, int ffnDim, int numLayers, int numHeads,
                        int wordEmbedProjDim, boolean layerNormBefore, boolean finalLayerNorm,
                        boolean tieWordEmbeddings) implements ModelConfig {
    /** OPT's learned position table starts at row 2 (rows 0 and 1 were reserved for padding in fairseq). */
    public static final int POSITION_OFFSET = 2;
    /** OPT's LayerNorm epsilon (torch's default, fixed in the modeling code). */
    public static final double LAYER_NORM_EPS = 1e-5;

    public OptConfig {
        require(vocabSize > 0, "vocab_size", "must be positive, was " + vocabSize);
        require(maxPositions > 0, "max_position_embeddings", "must be positive, was " + maxPositions);
        require(hiddenSize > 0, "hidden_size", "must be positive, was " + hiddenSize);
        require(ffnDim > 0, "ffn_dim", "must be positive, was " + ffnDim);
        require(numLayers > 0, "num_hidden_layers", "must be positive, was " + numLayers);
        require(numHeads > 0 && hiddenSize % numHeads == 0, "num_attention_heads",
                "must be positive and divide hidden_size=" + hiddenSize + ", was " + numHeads);
        require(wordEmbedProjDim > 0, "word_embed_proj_dim", "must be positive, was " + wordEmbedProjDim);
        require(!finalLayerNorm || layerNormBefore, "do_layer_norm_before",
                "a final LayerNorm comes with pre-LN blocks only");
    }

    /** transformers' OPTConfig defaults for the rest: pre-LN with a final LayerNorm, no projections, tied head. */
    public static OptConfig of(int vocabSize, int maxPositions, int hiddenSize, int ffnDim, int numLayers,
                               int numHeads) {
        return new OptConfig(vocabSize, maxPositions, hiddenSize, ffnDim, numLayers, numHeads, hiddenSize, true, true,
                true);
    }

    @Override
    public String modelType() {
        return "opt";
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** Whether project_in / project_out map the embedding width to the hidden size and back. */
    public boolean projected() {
        return wordEmbedProjDim != hiddenSize;
    }

    private static final String LAYER_PREFIX = "model.decoder.layers.";

    @Override
    public List<String> prunableLinears(int layer) {
        String p = LAYER_PREFIX + layer + ".";
        return List.of(p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj",
                p + "self_attn.out_proj", p + "fc1", p + "fc2");
    }

    @Override
    public Map<String, long[]> expectedTensors() {
        Map<String, long[]> t = new LinkedHashMap<>(); // checkpoint order
        t.put("model.decoder.embed_tokens.weight", new long[] {vocabSize, wordEmbedProjDim});
        t.put("model.decoder.embed_positions.weight", new long[] {maxPositions + POSITION_OFFSET, hiddenSize});
        if (finalLayerNorm) {
            t.put("model.decoder.final_layer_norm.weight", new long[] {hiddenSize});
            t.put("model.decoder.final_layer_norm.bias", new long[] {hiddenSize});
        }
        if (projected()) {
            t.put("model.decoder.project_out.weight", new long[] {wordEmbedProjDim, hiddenSize});
            t.put("model.decoder.project_in.weight", new long[] {hiddenSize, wordEmbedProjDim});
        }
        for (int i = 0; i < numLayers; i++) {
            t.putAll(layerTensors(i));
        }
        if (!tieWordEmbeddings) {
            t.put("lm_head.weight", new long[] {vocabSize, wordEmbedProjDim});
        }
        return t;
    }

    @Override
    public List<String> embeddingTensors() {
        return projected() ? List.of("model.decoder.embed_tokens.weight", "model.decoder.embed_positions.weight",
                "model.decoder.project_in.weight")
                : List.of("model.decoder.embed_tokens.weight", "model.decoder.embed_positions.weight");
    }

    @Override
    public Map<String, long[]> layerTensors(int layer) {
        Map<String, long[]> t = new LinkedHashMap<>();
        long d = hiddenSize;
        String p = LAYER_PREFIX + layer + ".";
        for (String proj : List.of("k_proj", "v_proj", "q_proj", "out_proj")) {
            t.put(p + "self_attn." + proj + ".weight", new long[] {d, d});
            t.put(p + "self_attn." + proj + ".bias", new long[] {d});
        }
        t.put(p + "self_attn_layer_norm.weight", new long[] {d});
        t.put(p + "self_attn_layer_norm.bias", new long[] {d});
        t.put(p + "fc1.weight", new long[] {ffnDim, d});
        t.put(p + "fc1.bias", new long[] {ffnDim});
        t.put(p + "fc2.weight", new long[] {d, ffnDim});
        t.put(p + "fc2.bias", new long[] {d});
        t.put(p + "final_layer_norm.weight", new long[] {d});
        t.put(p + "final_layer_norm.bias", new long[] {d});
        return t;
    }

    @Override
    public String layersField() {
        return "num_hidden_layers";
    }

    @Override
    public long layerOf(String canonicalName) {
        return ModelConfig.layerAfter(LAYER_PREFIX, canonicalName);
    }

    @Override
    public List<SizeField> sizeFields() {
        String embed = "model.decoder.embed_tokens.weight";
        return List.of(new SizeField("vocab_size", Integer.toString(vocabSize), embed, 0),
                new SizeField("word_embed_proj_dim", Integer.toString(wordEmbedProjDim), embed, 1),
                new SizeField("max_position_embeddings", maxPositions + " (plus OPT's offset of 2)",
                        "model.decoder.embed_positions.weight", 0),
                new SizeField("hidden_size", Integer.toString(hiddenSize), "model.decoder.embed_positions.weight", 1),
                new SizeField("ffn_dim", Integer.toString(ffnDim), LAYER_PREFIX + "0.fc1.weight", 0));
    }
}
