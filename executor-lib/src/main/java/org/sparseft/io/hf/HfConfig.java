package org.sparseft.io.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.sparseft.BadInputException;
import org.sparseft.io.Json;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.OptConfig;
import org.sparseft.model.ops.Rope;

import java.util.List;

/**
 * A Hugging Face {@code config.json}: the parsed architecture plus the original JSON, so an exported checkpoint keeps
 * every field it came with (only the fields sparseft owns, such as the sparsity block, are changed).
 */
public record HfConfig(ModelConfig model, ObjectNode json, String source) {

    /** The model_type values sparseft reads, as error messages list them. */
    public static final List<String> MODEL_TYPES = List.of("gpt2", "llama", "mistral", "qwen2", "qwen3", "opt");

    public HfConfig {
        json = json.deepCopy();
    }

    @Override
    public ObjectNode json() {
        return json.deepCopy();
    }

    public static HfConfig parse(String text, String source) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw BadInputException.at(source, "not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw BadInputException.at(source, "expected a JSON object");
        }
        return new HfConfig(parseModel((ObjectNode) root, source), (ObjectNode) root, source);
    }

    private static ModelConfig parseModel(ObjectNode root, String source) {
        JsonFields f = new JsonFields(root, source);
        String type = f.requiredString("model_type");
        try {
            if (type.equals("gpt2")) {
                int d = f.requiredInt("n_embd");
                return new Gpt2Config(
                        f.requiredInt("vocab_size"),
                        f.requiredInt("n_positions"),
                        d,
                        f.requiredInt("n_layer"),
                        f.requiredInt("n_head"),
                        f.optionalInt("n_inner", 4 * d),
                        f.optionalDouble("layer_norm_epsilon", 1e-5),
                        f.optionalString("activation_function", "gelu_new"),
                        f.optionalBoolean("tie_word_embeddings", true));
            }
            if (type.equals("opt")) {
                return opt(f, source);
            }
            LlamaConfig.Family family = LlamaConfig.Family.of(type);
            if (family != null) {
                return llamaLayout(family, f, source);
            }
        } catch (BadInputException e) {
            if (e.getMessage().startsWith(source)) {
                throw e;
            }
            throw BadInputException.at(source, e.getMessage());
        }
        throw BadInputException.at(source, "field 'model_type' is \"" + type + "\"; sparseft supports "
                + MODEL_TYPES);
    }

    /**
     * The LLaMA layout's families, each field read with the default its transformers config class has, so a
     * config.json that leaves a field out means what it means there.
     */
    private static LlamaConfig llamaLayout(LlamaConfig.Family family, JsonFields f, String source) {
        String act = f.optionalString("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw BadInputException.at(source, "field 'hidden_act' must be \"silu\", was \"" + act + "\"");
        }
        int d = f.requiredInt("hidden_size");
        int heads = f.requiredInt("num_attention_heads");
        boolean qwen = family == LlamaConfig.Family.QWEN2 || family == LlamaConfig.Family.QWEN3;
        int defaultHeadDim = family == LlamaConfig.Family.QWEN3 ? 128 : heads > 0 ? d / heads : 0;
        if (family != LlamaConfig.Family.QWEN3 && !f.has("head_dim") && heads > 0 && d % heads != 0) {
            throw BadInputException.at(source, "field 'num_attention_heads' = " + heads + " must divide"
                    + " hidden_size=" + d + " when head_dim is absent (head_dim = hidden_size / num_attention_heads)");
        }
        int layers = f.requiredInt("num_hidden_layers");
        boolean attentionBias = family != LlamaConfig.Family.MISTRAL && family != LlamaConfig.Family.QWEN2
                && f.optionalBoolean("attention_bias", false);
        // sliding_window: absent means the config class's default (4096), null means none
        int configuredWindow = f.isNull("sliding_window") ? 0 : f.optionalInt("sliding_window", 4096);
        int window = 0;
        int firstWindowed = 0;
        if (family == LlamaConfig.Family.MISTRAL) {
            window = configuredWindow;
        } else if (qwen && f.optionalBoolean("use_sliding_window", false)) {
            window = configuredWindow;
            firstWindowed = f.optionalInt("max_window_layers", 28);
        }
        List<String> layerTypes = f.optionalStringList("layer_types");
        if (layerTypes != null) { // written by recent transformers; it has the last word on which layers slide
            firstWindowed = windowedFrom(layerTypes, layers, source);
            window = firstWindowed < layers ? configuredWindow : 0;
        }
        return new LlamaConfig(family,
                f.requiredInt("vocab_size"),
                f.optionalInt("max_position_embeddings", switch (family) {
                    case LLAMA -> 2048;
                    case MISTRAL -> 4096 * 32;
                    case QWEN2, QWEN3 -> 32768;
                }),
                d,
                f.requiredInt("intermediate_size"),
                layers,
                heads,
                f.optionalInt("num_key_value_heads", heads),
                f.optionalInt("head_dim", defaultHeadDim),
                f.optionalDouble("rms_norm_eps", 1e-6),
                f.optionalDouble("rope_theta", 10000.0),
                ropeScaling(f, source),
                f.optionalBoolean("tie_word_embeddings", false),
                attentionBias || family == LlamaConfig.Family.QWEN2,
                attentionBias,
                family == LlamaConfig.Family.LLAMA && f.optionalBoolean("mlp_bias", false),
                family == LlamaConfig.Family.QWEN3,
                window,
                Math.min(firstWindowed, layers));
    }

    /** OPT, with the defaults of transformers' OPTConfig; what its modeling code cannot switch off is refused. */
    private static OptConfig opt(JsonFields f, String source) {
        String act = f.optionalString("activation_function", "relu");
        if (!act.equals("relu")) {
            throw BadInputException.at(source, "field 'activation_function' must be \"relu\", was \"" + act + "\"");
        }
        if (!f.optionalBoolean("layer_norm_elementwise_affine", true) || !f.optionalBoolean("enable_bias", true)) {
            throw BadInputException.at(source, "fields 'layer_norm_elementwise_affine' and 'enable_bias' must be true"
                    + " (every released OPT has them); sparseft does not implement OPT without norm scales or biases");
        }
        int d = f.requiredInt("hidden_size");
        boolean pre = f.optionalBoolean("do_layer_norm_before", true);
        return new OptConfig(f.requiredInt("vocab_size"), f.optionalInt("max_position_embeddings", 2048), d,
                f.requiredInt("ffn_dim"), f.requiredInt("num_hidden_layers"), f.requiredInt("num_attention_heads"),
                f.optionalInt("word_embed_proj_dim", d), pre,
                pre && !f.optionalBoolean("_remove_final_layer_norm", false),
                f.optionalBoolean("tie_word_embeddings", true));
    }

    /** The first sliding layer of {@code layer_types}, which sparseft reads as full layers, then sliding ones. */
    private static int windowedFrom(List<String> layerTypes, int layers, String source) {
        if (layerTypes.size() != layers) {
            throw BadInputException.at(source, "field 'layer_types' has " + layerTypes.size() + " entries for "
                    + layers + " layers (num_hidden_layers)");
        }
        int first = layers;
        for (int i = 0; i < layers; i++) {
            String t = layerTypes.get(i);
            if (!t.equals("full_attention") && !t.equals("sliding_attention")) {
                throw BadInputException.at(source, "field 'layer_types' entry " + i + " is \"" + t + "\"; expected"
                        + " \"full_attention\" or \"sliding_attention\"");
            }
            if (t.equals("sliding_attention") && first == layers) {
                first = i;
            } else if (t.equals("full_attention") && first < layers) {
                throw BadInputException.at(source, "field 'layer_types': full attention at layer " + i + " after"
                        + " sliding attention at layer " + first + "; sparseft supports full layers followed by"
                        + " sliding ones (Qwen's max_window_layers)");
            }
        }
        return first;
    }

    /** {@code rope_scaling}: absent, null or "default" is plain RoPE; "linear" and "llama3" are read. */
    private static Rope.Scaling ropeScaling(JsonFields f, String source) {
        JsonFields r = f.optionalObject("rope_scaling");
        if (r == null) {
            return Rope.Scaling.NONE;
        }
        String kind = r.has("rope_type") ? r.requiredString("rope_type") : r.optionalString("type", "default");
        try {
            return switch (kind) {
                case "default" -> Rope.Scaling.NONE;
                case "linear" -> new Rope.Scaling(Rope.Scaling.Kind.LINEAR, r.requiredDouble("factor"), 0, 0, 0);
                case "llama3" -> new Rope.Scaling(Rope.Scaling.Kind.LLAMA3, r.requiredDouble("factor"),
                        r.requiredDouble("low_freq_factor"), r.requiredDouble("high_freq_factor"),
                        r.requiredInt("original_max_position_embeddings"));
                default -> throw BadInputException.at(source, "field 'rope_scaling.rope_type' is \"" + kind
                        + "\"; sparseft supports \"default\", \"linear\" and \"llama3\"");
            };
        } catch (IllegalArgumentException e) {
            throw BadInputException.at(source, "field 'rope_scaling': " + e.getMessage());
        }
    }

    /** A config.json for a model sparseft creates (pretraining), in the shape Hugging Face writes. */
    public static HfConfig of(ModelConfig model, String torchDtype) {
        ObjectNode j = Json.MAPPER.createObjectNode();
        if (model instanceof Gpt2Config g) {
            j.putArray("architectures").add("GPT2LMHeadModel");
            j.put("model_type", "gpt2");
            j.put("vocab_size", g.vocabSize());
            j.put("n_positions", g.maxPositions());
            j.put("n_ctx", g.maxPositions());
            j.put("n_embd", g.hiddenSize());
            j.put("n_layer", g.numLayers());
            j.put("n_head", g.numHeads());
            j.put("n_inner", g.innerSize());
            j.put("layer_norm_epsilon", g.layerNormEpsilon());
            j.put("activation_function", g.activation());
            j.put("tie_word_embeddings", g.tieWordEmbeddings());
        } else if (model instanceof OptConfig o) {
            j.putArray("architectures").add("OPTForCausalLM");
            j.put("model_type", "opt");
            j.put("vocab_size", o.vocabSize());
            j.put("max_position_embeddings", o.maxPositions());
            j.put("hidden_size", o.hiddenSize());
            j.put("ffn_dim", o.ffnDim());
            j.put("num_hidden_layers", o.numLayers());
            j.put("num_attention_heads", o.numHeads());
            j.put("word_embed_proj_dim", o.wordEmbedProjDim());
            j.put("do_layer_norm_before", o.layerNormBefore());
            j.put("_remove_final_layer_norm", o.layerNormBefore() && !o.finalLayerNorm());
            j.put("activation_function", "relu");
            j.put("enable_bias", true);
            j.put("layer_norm_elementwise_affine", true);
            j.put("tie_word_embeddings", o.tieWordEmbeddings());
        } else if (model instanceof LlamaConfig l) {
            j.putArray("architectures").add(l.family().architecture());
            j.put("model_type", l.modelType());
            j.put("vocab_size", l.vocabSize());
            j.put("max_position_embeddings", l.maxPositions());
            j.put("hidden_size", l.hiddenSize());
            j.put("intermediate_size", l.intermediateSize());
            j.put("num_hidden_layers", l.numLayers());
            j.put("num_attention_heads", l.numHeads());
            j.put("num_key_value_heads", l.numKvHeads());
            j.put("head_dim", l.headDim());
            j.put("rms_norm_eps", l.rmsNormEps());
            j.put("rope_theta", l.ropeTheta());
            Rope.Scaling rs = l.ropeScaling();
            if (rs.kind() == Rope.Scaling.Kind.NONE) {
                j.putNull("rope_scaling");
            } else {
                ObjectNode r = j.putObject("rope_scaling").put("rope_type", rs.kind().name().toLowerCase(
                        java.util.Locale.ROOT)).put("factor", rs.factor());
                if (rs.kind() == Rope.Scaling.Kind.LLAMA3) {
                    r.put("low_freq_factor", rs.lowFreqFactor()).put("high_freq_factor", rs.highFreqFactor())
                            .put("original_max_position_embeddings", rs.originalMaxPositions());
                }
            }
            j.put("hidden_act", "silu");
            j.put("tie_word_embeddings", l.tieWordEmbeddings());
            switch (l.family()) {
                case LLAMA -> j.put("attention_bias", l.qkvBias()).put("mlp_bias", l.mlpBias());
                case MISTRAL -> {
                    if (l.slidingWindow() > 0) {
                        j.put("sliding_window", l.slidingWindow());
                    } else {
                        j.putNull("sliding_window");
                    }
                }
                case QWEN2, QWEN3 -> {
                    if (l.family() == LlamaConfig.Family.QWEN3) {
                        j.put("attention_bias", l.qkvBias());
                    }
                    j.put("use_sliding_window", l.slidingWindow() > 0);
                    j.put("sliding_window", l.slidingWindow() > 0 ? l.slidingWindow() : 4096);
                    j.put("max_window_layers", l.slidingWindow() > 0 ? l.firstWindowedLayer() : l.numLayers());
                }
            }
        }
        j.put("torch_dtype", torchDtype);
        return new HfConfig(model, j, "config.json");
    }

    public String toJsonText() {
        try {
            return Json.PRETTY.writeValueAsString(json);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
