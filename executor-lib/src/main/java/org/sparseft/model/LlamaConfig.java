package org.sparseft.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.sparseft.model.ModelConfig.require;

/**
 * LLaMA family ({@code LlamaForCausalLM}): RMSNorm, rotary embeddings (HF {@code rotate_half} convention), SwiGLU
 * MLP, grouped-query attention when {@code numKvHeads < numHeads}, weights stored [out, in].
 */
public record LlamaConfig(int vocabSize, int maxPositions, int hiddenSize, int intermediateSize, int numLayers,
                          int numHeads, int numKvHeads, int headDim, double rmsNormEps, double ropeTheta,
                          boolean tieWordEmbeddings, boolean attentionBias, boolean mlpBias)
        implements ModelConfig {

    public LlamaConfig {
        require(vocabSize > 0, "vocab_size", "must be positive, was " + vocabSize);
        require(maxPositions > 0, "max_position_embeddings", "must be positive, was " + maxPositions);
        require(hiddenSize > 0, "hidden_size", "must be positive, was " + hiddenSize);
        require(intermediateSize > 0, "intermediate_size", "must be positive, was " + intermediateSize);
        require(numLayers > 0, "num_hidden_layers", "must be positive, was " + numLayers);
        require(numHeads > 0, "num_attention_heads", "must be positive, was " + numHeads);
        require(numKvHeads > 0 && numHeads % numKvHeads == 0, "num_key_value_heads",
                "must be positive and divide num_attention_heads=" + numHeads + ", was " + numKvHeads);
        require(headDim > 0 && headDim % 2 == 0, "head_dim", "must be positive and even (rotary pairs), was " + headDim);
        require(rmsNormEps > 0, "rms_norm_eps", "must be positive, was " + rmsNormEps);
        require(ropeTheta > 0, "rope_theta", "must be positive, was " + ropeTheta);
    }

    /** Hugging Face's LlamaConfig defaults for the remaining fields: head_dim = hidden/heads, no biases. */
    public static LlamaConfig of(int vocabSize, int maxPositions, int hiddenSize, int intermediateSize, int numLayers,
                                 int numHeads, int numKvHeads, boolean tieWordEmbeddings) {
        return new LlamaConfig(vocabSize, maxPositions, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads,
                hiddenSize / numHeads, 1e-6, 10000.0, tieWordEmbeddings, false, false);
    }

    @Override
    public String modelType() {
        return "llama";
    }

    @Override
    public List<String> prunableLinears(int layer) {
        String p = "model.layers." + layer + ".";
        return List.of(p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj", p + "self_attn.o_proj",
                p + "mlp.gate_proj", p + "mlp.up_proj", p + "mlp.down_proj");
    }

    @Override
    public Map<String, long[]> expectedTensors() {
        Map<String, long[]> t = new LinkedHashMap<>(); // checkpoint order
        long d = hiddenSize;
        t.put("model.embed_tokens.weight", new long[] {vocabSize, d});
        for (int i = 0; i < numLayers; i++) {
            t.putAll(layerTensors(i));
        }
        t.put("model.norm.weight", new long[] {d});
        if (!tieWordEmbeddings) {
            t.put("lm_head.weight", new long[] {vocabSize, d});
        }
        return t;
    }

    @Override
    public Map<String, long[]> layerTensors(int layer) {
        Map<String, long[]> t = new LinkedHashMap<>();
        long d = hiddenSize;
        long q = (long) numHeads * headDim;
        long kv = (long) numKvHeads * headDim;
        String p = LAYER_PREFIX + layer + ".";
        t.put(p + "input_layernorm.weight", new long[] {d});
        linear(t, p + "self_attn.q_proj", q, d, attentionBias);
        linear(t, p + "self_attn.k_proj", kv, d, attentionBias);
        linear(t, p + "self_attn.v_proj", kv, d, attentionBias);
        linear(t, p + "self_attn.o_proj", d, q, attentionBias);
        t.put(p + "post_attention_layernorm.weight", new long[] {d});
        linear(t, p + "mlp.gate_proj", intermediateSize, d, mlpBias);
        linear(t, p + "mlp.up_proj", intermediateSize, d, mlpBias);
        linear(t, p + "mlp.down_proj", d, intermediateSize, mlpBias);
        return t;
    }

    private static final String LAYER_PREFIX = "model.layers.";

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
        String attn = LAYER_PREFIX + "0.self_attn.";
        return List.of(new SizeField("vocab_size", Integer.toString(vocabSize), "model.embed_tokens.weight", 0),
                new SizeField("hidden_size", Integer.toString(hiddenSize), "model.embed_tokens.weight", 1),
                new SizeField("num_attention_heads", numHeads + " (with head_dim " + headDim + ")",
                        attn + "q_proj.weight", 0),
                new SizeField("num_key_value_heads", numKvHeads + " (with head_dim " + headDim + ")",
                        attn + "k_proj.weight", 0),
                new SizeField("intermediate_size", Integer.toString(intermediateSize),
                        LAYER_PREFIX + "0.mlp.gate_proj.weight", 0));
    }

    private static void linear(Map<String, long[]> t, String name, long out, long in, boolean bias) {
        t.put(name + ".weight", new long[] {out, in});
        if (bias) {
            t.put(name + ".bias", new long[] {out});
        }
    }
}
