package org.sparseft.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.sparseft.model.ModelConfig.require;

/**
 * GPT-2 ({@code GPT2LMHeadModel}): learned positions, pre-LayerNorm, fused QKV, Conv1D weights stored [in, out],
 * LM head tied to the token embedding.
 *
 * @param activation {@code gelu_new} / {@code gelu_pytorch_tanh} (tanh form, GPT-2's own) or {@code gelu} (erf)
 */
public record Gpt2Config(int vocabSize, int maxPositions, int hiddenSize, int numLayers, int numHeads,
                         int innerSize, double layerNormEpsilon, String activation, boolean tieWordEmbeddings)
        implements ModelConfig {

    public static final List<String> ACTIVATIONS = List.of("gelu_new", "gelu_pytorch_tanh", "gelu", "gelu_fast");

    public Gpt2Config {
        require(vocabSize > 0, "vocab_size", "must be positive, was " + vocabSize);
        require(maxPositions > 0, "n_positions", "must be positive, was " + maxPositions);
        require(hiddenSize > 0, "n_embd", "must be positive, was " + hiddenSize);
        require(numLayers > 0, "n_layer", "must be positive, was " + numLayers);
        require(numHeads > 0 && hiddenSize % numHeads == 0, "n_head",
                "must be positive and divide n_embd=" + hiddenSize + ", was " + numHeads);
        require(innerSize > 0, "n_inner", "must be positive, was " + innerSize);
        require(layerNormEpsilon > 0, "layer_norm_epsilon", "must be positive, was " + layerNormEpsilon);
        require(ACTIVATIONS.contains(activation), "activation_function",
                "expected one of " + ACTIVATIONS + ", was '" + activation + "'");
        require(tieWordEmbeddings, "tie_word_embeddings", "GPT-2 ties its LM head to wte; false is not supported");
    }

    /** The GPT-2 defaults of Hugging Face's GPT2Config, with n_inner = 4·n_embd. */
    public static Gpt2Config of(int vocabSize, int maxPositions, int hiddenSize, int numLayers, int numHeads) {
        return new Gpt2Config(vocabSize, maxPositions, hiddenSize, numLayers, numHeads, 4 * hiddenSize, 1e-5,
                "gelu_new", true);
    }

    @Override
    public String modelType() {
        return "gpt2";
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }

    @Override
    public List<String> prunableLinears(int layer) {
        String p = "transformer.h." + layer + ".";
        return List.of(p + "attn.c_attn", p + "attn.c_proj", p + "mlp.c_fc", p + "mlp.c_proj");
    }

    @Override
    public Map<String, long[]> expectedTensors() {
        Map<String, long[]> t = new LinkedHashMap<>(); // checkpoint order
        long d = hiddenSize;
        t.put("transformer.wte.weight", new long[] {vocabSize, d});
        t.put("transformer.wpe.weight", new long[] {maxPositions, d});
        for (int i = 0; i < numLayers; i++) {
            t.putAll(layerTensors(i));
        }
        t.put("transformer.ln_f.weight", new long[] {d});
        t.put("transformer.ln_f.bias", new long[] {d});
        return t;
    }

    @Override
    public List<String> embeddingTensors() {
        return List.of("transformer.wte.weight", "transformer.wpe.weight");
    }

    @Override
    public Map<String, long[]> layerTensors(int layer) {
        Map<String, long[]> t = new LinkedHashMap<>();
        long d = hiddenSize;
        String p = LAYER_PREFIX + layer + ".";
        t.put(p + "ln_1.weight", new long[] {d});
        t.put(p + "ln_1.bias", new long[] {d});
        t.put(p + "attn.c_attn.weight", new long[] {d, 3 * d});
        t.put(p + "attn.c_attn.bias", new long[] {3 * d});
        t.put(p + "attn.c_proj.weight", new long[] {d, d});
        t.put(p + "attn.c_proj.bias", new long[] {d});
        t.put(p + "ln_2.weight", new long[] {d});
        t.put(p + "ln_2.bias", new long[] {d});
        t.put(p + "mlp.c_fc.weight", new long[] {d, innerSize});
        t.put(p + "mlp.c_fc.bias", new long[] {innerSize});
        t.put(p + "mlp.c_proj.weight", new long[] {innerSize, d});
        t.put(p + "mlp.c_proj.bias", new long[] {d});
        return t;
    }

    private static final String LAYER_PREFIX = "transformer.h.";

    @Override
    public String layersField() {
        return "n_layer";
    }

    @Override
    public long layerOf(String canonicalName) {
        return ModelConfig.layerAfter(LAYER_PREFIX, canonicalName);
    }

    /** n_head shows in no tensor's shape (the fused QKV is [d, 3d] for any head count that divides d). */
    @Override
    public List<SizeField> sizeFields() {
        return List.of(new SizeField("vocab_size", Integer.toString(vocabSize), "transformer.wte.weight", 0),
                new SizeField("n_embd", Integer.toString(hiddenSize), "transformer.wte.weight", 1),
                new SizeField("n_positions", Integer.toString(maxPositions), "transformer.wpe.weight", 0),
                new SizeField("n_inner", Integer.toString(innerSize), LAYER_PREFIX + "0.mlp.c_fc.weight", 1));
    }
}
