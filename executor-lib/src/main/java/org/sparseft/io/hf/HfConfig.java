package org.sparseft.io.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.sparseft.BadInputException;
import org.sparseft.io.Json;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.ModelConfig;

import java.util.List;

/**
 * A Hugging Face {@code config.json}: the parsed architecture plus the original JSON, so an exported checkpoint keeps
 * every field it came with (only the fields sparseft owns, such as the sparsity block, are changed).
 */
public record HfConfig(ModelConfig model, ObjectNode json, String source) {

    /** model_type values read as the LLaMA architecture (same tensors and forward pass). */
    public static final List<String> LLAMA_TYPES = List.of("llama");

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
            if (LLAMA_TYPES.contains(type)) {
                if (f.has("rope_scaling")) {
                    throw BadInputException.at(source, "field 'rope_scaling' is set; sparseft supports plain RoPE"
                            + " only (rope_scaling null or absent)");
                }
                String act = f.optionalString("hidden_act", "silu");
                if (!act.equals("silu")) {
                    throw BadInputException.at(source, "field 'hidden_act' must be \"silu\", was \"" + act + "\"");
                }
                int d = f.requiredInt("hidden_size");
                int heads = f.requiredInt("num_attention_heads");
                if (!f.has("head_dim") && heads > 0 && d % heads != 0) { // Hugging Face's own check
                    throw BadInputException.at(source, "field 'num_attention_heads' = " + heads + " must divide"
                            + " hidden_size=" + d + " when head_dim is absent (head_dim = hidden_size /"
                            + " num_attention_heads)");
                }
                return new LlamaConfig(
                        f.requiredInt("vocab_size"),
                        f.optionalInt("max_position_embeddings", 2048),
                        d,
                        f.requiredInt("intermediate_size"),
                        f.requiredInt("num_hidden_layers"),
                        heads,
                        f.optionalInt("num_key_value_heads", heads),
                        f.optionalInt("head_dim", heads > 0 ? d / heads : 0),
                        f.optionalDouble("rms_norm_eps", 1e-6),
                        f.optionalDouble("rope_theta", 10000.0),
                        f.optionalBoolean("tie_word_embeddings", false),
                        f.optionalBoolean("attention_bias", false),
                        f.optionalBoolean("mlp_bias", false));
            }
        } catch (BadInputException e) {
            if (e.getMessage().startsWith(source)) {
                throw e;
            }
            throw BadInputException.at(source, e.getMessage());
        }
        throw BadInputException.at(source, "field 'model_type' is \"" + type
                + "\"; sparseft supports \"gpt2\" and " + LLAMA_TYPES);
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
        } else if (model instanceof LlamaConfig l) {
            j.putArray("architectures").add("LlamaForCausalLM");
            j.put("model_type", "llama");
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
            j.put("hidden_act", "silu");
            j.put("tie_word_embeddings", l.tieWordEmbeddings());
            j.put("attention_bias", l.attentionBias());
            j.put("mlp_bias", l.mlpBias());
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
