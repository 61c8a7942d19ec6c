package org.sparseft.model;

import org.sparseft.model.ops.Rope;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.sparseft.model.ModelConfig.require;

/**
 * The LLaMA layout and the families that share it ({@code LlamaForCausalLM}, {@code MistralForCausalLM},
 * {@code Qwen2ForCausalLM}, {@code Qwen3ForCausalLM}): RMSNorm before attention and MLP, rotary embeddings (HF
 * {@code rotate_half} convention, optionally scaled), grouped-query attention when {@code numKvHeads < numHeads},
 * SwiGLU MLP, weights stored [out, in]. The families differ only in the switches below (docs/algorithms.md §1.2).
 *
 * @param ropeScaling how the rotary frequencies are stretched ({@code rope_scaling}), {@link Rope.Scaling#NONE} for
 *                    plain RoPE
 * @param qkvBias whether q, k and v have biases (LLaMA's {@code attention_bias}; always in Qwen2)
 * @param outputBias whether o has a bias (LLaMA's {@code attention_bias}; never in Qwen2)
 * @param qkNorm whether each head's query and key go through an RMSNorm over the head before RoPE (Qwen3)
 * @param slidingWindow the attention window of the layers that have one (Mistral, Qwen with
 *                      {@code use_sliding_window}), 0 for none
 * @param firstWindowedLayer the first of those layers (Qwen's {@code max_window_layers}; 0 for Mistral)
 */
public record LlamaConfig(Family family, int vocabSize, int maxPositions, int hiddenSize, int intermediateSize,
                          int numLayers, int numHeads, int numKvHeads, int headDim, double rmsNormEps,
                          double ropeTheta, Rope.Scaling ropeScaling, boolean tieWordEmbeddings, boolean qkvBias,
                          boolean outputBias, boolean mlpBias, boolean qkNorm, int slidingWindow,
                          int firstWindowedLayer)
        implements ModelConfig {

    /** The {@code model_type} values of the LLaMA layout, with their architecture class. */
    public enum Family {
        LLAMA("llama", "LlamaForCausalLM"),
        MISTRAL("mistral", "MistralForCausalLM"),
        QWEN2("qwen2", "Qwen2ForCausalLM"),
        QWEN3("qwen3", "Qwen3ForCausalLM");

        private final String modelType;
        private final String architecture;

        Family(String modelType, String architecture) {
            this.modelType = modelType;
            this.architecture = architecture;
        }

        public String modelType() {
            return modelType;
        }

        public String architecture() {
            return architecture;
        }

        /** The family of a config.json's {@code model_type}, or null for another layout. */
        public static Family of(String modelType) {
            for (Family f : values()) {
                if (f.modelType.equals(modelType)) {
                    return f;
                }
            }
            return null;
        }
    }

    public LlamaConfig {
        java.util.Objects.requireNonNull(family, "family");
        java.util.Objects.requireNonNull(ropeScaling, "ropeScaling");
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
        require(slidingWindow >= 0, "sliding_window", "must be positive, was " + slidingWindow);
        require(firstWindowedLayer >= 0, "max_window_layers", "must not be negative, was " + firstWindowedLayer);
        boolean consistent = switch (family) { // what each family's config.json can say
            case LLAMA -> qkvBias == outputBias && !qkNorm && slidingWindow == 0;
            case MISTRAL -> !qkvBias && !outputBias && !mlpBias && !qkNorm && firstWindowedLayer == 0;
            case QWEN2 -> qkvBias && !outputBias && !mlpBias && !qkNorm;
            case QWEN3 -> qkvBias == outputBias && !mlpBias && qkNorm;
        };
        if (!consistent) {
            throw new IllegalArgumentException(family + " has no such switches: biases " + qkvBias + "/" + outputBias
                    + "/" + mlpBias + ", qk norm " + qkNorm + ", window " + slidingWindow + " from "
                    + firstWindowedLayer);
        }
    }

    /** Hugging Face's LlamaConfig defaults for the remaining fields: head_dim = hidden/heads, no biases. */
    public static LlamaConfig of(int vocabSize, int maxPositions, int hiddenSize, int intermediateSize, int numLayers,
                                 int numHeads, int numKvHeads, boolean tieWordEmbeddings) {
        return new LlamaConfig(Family.LLAMA, vocabSize, maxPositions, hiddenSize, intermediateSize, numLayers,
                numHeads, numKvHeads, hiddenSize / numHeads, 1e-6, 10000.0, Rope.Scaling.NONE, tieWordEmbeddings,
                false, false, false, false, 0, 0);
    }

    /** The attention window of block {@code layer}, 0 when it attends to every earlier position. */
    public int slidingWindow(int layer) {
        return slidingWindow > 0 && layer >= firstWindowedLayer ? slidingWindow : 0;
    }

    @Override
    public String modelType() {
        return family.modelType();
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
    public List<String> embeddingTensors() {
        return List.of("model.embed_tokens.weight");
    }

    @Override
    public Map<String, long[]> layerTensors(int layer) {
        Map<String, long[]> t = new LinkedHashMap<>();
        long d = hiddenSize;
        long q = (long) numHeads * headDim;
        long kv = (long) numKvHeads * headDim;
        String p = LAYER_PREFIX + layer + ".";
        t.put(p + "input_layernorm.weight", new long[] {d});
        linear(t, p + "self_attn.q_proj", q, d, qkvBias);
        linear(t, p + "self_attn.k_proj", kv, d, qkvBias);
        linear(t, p + "self_attn.v_proj", kv, d, qkvBias);
        linear(t, p + "self_attn.o_proj", d, q, outputBias);
        if (qkNorm) {
            t.put(p + "self_attn.q_norm.weight", new long[] {headDim});
            t.put(p + "self_attn.k_norm.weight", new long[] {headDim});
        }
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
