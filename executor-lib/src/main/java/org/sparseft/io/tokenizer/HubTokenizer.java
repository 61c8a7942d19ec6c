package org.sparseft.io.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import org.sparseft.BadInputException;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@code tokenizer.json} of any format Hugging Face's tokenizers library reads (SentencePiece-style BPE with byte
 * fallback as LLaMA-2, Mistral and TinyLlama ship it, Qwen's NFC-normalised byte-level BPE, Unigram, WordPiece, added
 * tokens with their strip flags), run by that library itself (its Rust code, through DJL's JNI binding) rather than by
 * a second implementation. Added and special tokens are matched in the text before the model runs, as there.
 *
 * <p>A document is encoded as the post-processor's template says (LLaMA-2: {@code <s>} first), unless
 * {@code tokenizer_config.json} sets {@code add_bos_token} / {@code add_eos_token}, which then decide, as
 * transformers' LLaMA tokenizers let them.
 */
public final class HubTokenizer implements Tokenizer {
    private final HuggingFaceTokenizer tokenizer;
    private final int vocabSize;
    private final int[] prefix;
    private final int[] suffix;
    private final Map<String, byte[]> files;
    private final String describe;

    private HubTokenizer(HuggingFaceTokenizer tokenizer, int vocabSize, int[] prefix, int[] suffix,
                         Map<String, byte[]> files, String describe) {
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
        this.prefix = prefix;
        this.suffix = suffix;
        this.files = files;
        this.describe = describe;
    }

    /**
     * @param tokenizerJson the parsed {@code tokenizer.json}
     * @param bytes its bytes, as the library reads them
     * @param config the parsed {@code tokenizer_config.json}, or null when the directory has none
     * @param configBytes its bytes (copied into exports), or null
     */
    static HubTokenizer of(JsonNode tokenizerJson, byte[] bytes, String source, JsonNode config, byte[] configBytes) {
        HuggingFaceTokenizer t;
        try {
            t = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes), Map.of("addSpecialTokens", "false",
                    "truncation", "false", "padding", "false"));
        } catch (IOException | RuntimeException e) {
            throw BadInputException.at(source, "Hugging Face's tokenizers library cannot read it (" + components(
                    tokenizerJson) + "): " + e.getMessage());
        }
        Map<String, Integer> ids = tokenIds(tokenizerJson);
        int vocab = ids.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        List<Integer> before = new ArrayList<>();
        List<Integer> after = new ArrayList<>();
        template(tokenizerJson.get("post_processor"), ids, before, after, source);
        if (config != null) {
            override(config, "add_bos_token", "bos_token", before, ids, source);
            override(config, "add_eos_token", "eos_token", after, ids, source);
        }
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put(Tokenizers.TOKENIZER_JSON, bytes.clone());
        if (configBytes != null) {
            files.put(Tokenizers.TOKENIZER_CONFIG_JSON, configBytes.clone());
        }
        String model = tokenizerJson.path("model").path("type").asText("?");
        return new HubTokenizer(t, vocab, before.stream().mapToInt(Integer::intValue).toArray(),
                after.stream().mapToInt(Integer::intValue).toArray(), Collections.unmodifiableMap(files),
                "tokenizer.json (" + model + ", Hugging Face tokenizers), " + vocab + " tokens");
    }

    /** "normalizer Fancy, pre_tokenizer ByteLevel, model BPE": the components a file names, for messages. */
    private static String components(JsonNode root) {
        List<String> named = new ArrayList<>();
        for (String c : List.of("normalizer", "pre_tokenizer", "model", "post_processor", "decoder")) {
            JsonNode type = root.path(c).path("type");
            if (type.isTextual()) {
                named.add(c + " " + type.asText());
            }
        }
        return named.isEmpty() ? "no typed components" : String.join(", ", named);
    }

    /** Every token's id: the model's vocabulary and the added tokens. */
    private static Map<String, Integer> tokenIds(JsonNode root) {
        Map<String, Integer> ids = new LinkedHashMap<>();
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            vocab.fields().forEachRemaining(e -> ids.put(e.getKey(), e.getValue().asInt()));
        } else if (vocab.isArray()) { // Unigram: [[piece, score], ...], the id is the position
            for (int i = 0; i < vocab.size(); i++) {
                ids.put(vocab.get(i).path(0).asText(), i);
            }
        }
        for (JsonNode a : root.path("added_tokens")) {
            ids.put(a.path("content").asText(), a.path("id").asInt());
        }
        return ids;
    }

    /** The special tokens a TemplateProcessing (alone or in a Sequence) puts before and after a single text. */
    private static void template(JsonNode post, Map<String, Integer> ids, List<Integer> before, List<Integer> after,
                                 String source) {
        if (post == null || post.isNull()) {
            return;
        }
        if (post.path("type").asText().equals("Sequence")) {
            for (JsonNode p : post.path("processors")) {
                template(p, ids, before, after, source);
            }
            return;
        }
        if (!post.path("type").asText().equals("TemplateProcessing")) {
            return; // ByteLevel, RobertaProcessing...: offsets only, or pair handling sparseft does not use
        }
        boolean seenText = false;
        for (JsonNode item : post.path("single")) {
            if (item.has("Sequence")) {
                seenText = true;
                continue;
            }
            String token = item.path("SpecialToken").path("id").asText();
            JsonNode special = post.path("special_tokens").path(token).path("ids");
            List<Integer> into = seenText ? after : before;
            if (special.isArray() && !special.isEmpty()) {
                special.forEach(i -> into.add(i.asInt()));
            } else if (ids.containsKey(token)) {
                into.add(ids.get(token));
            } else {
                throw BadInputException.at(source, "post_processor names the special token '" + token
                        + "', which the vocabulary does not hold");
            }
        }
    }

    /** {@code add_bos_token} / {@code add_eos_token} when set: the template's choice replaced by the config's. */
    private static void override(JsonNode config, String flag, String tokenField, List<Integer> into,
                                 Map<String, Integer> ids, String source) {
        JsonNode add = config.get(flag);
        if (add == null || !add.isBoolean()) {
            return;
        }
        into.clear();
        if (add.booleanValue()) {
            JsonNode t = config.get(tokenField);
            String token = t == null ? null : t.isTextual() ? t.asText() : t.path("content").asText(null);
            if (token == null || !ids.containsKey(token)) {
                throw BadInputException.at(source, "tokenizer_config.json sets " + flag + " but its " + tokenField
                        + " (" + t + ") is not a token of the vocabulary");
            }
            into.add(ids.get(token));
        }
    }

    @Override
    public int[] encode(String text) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    @Override
    public int[] encodeDocument(String text) {
        int[] ids = encode(text);
        int[] out = new int[prefix.length + ids.length + suffix.length];
        System.arraycopy(prefix, 0, out, 0, prefix.length);
        System.arraycopy(ids, 0, out, prefix.length, ids.length);
        System.arraycopy(suffix, 0, out, prefix.length + ids.length, suffix.length);
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer.decode(l, false);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    /** The id a document ends with, or -1: documents are delimited by the template's special tokens. */
    @Override
    public int eosId() {
        return suffix.length == 0 ? -1 : suffix[suffix.length - 1];
    }

    @Override
    public String describe() {
        return describe;
    }

    @Override
    public Map<String, byte[]> files() {
        Map<String, byte[]> copy = new LinkedHashMap<>();
        files.forEach((k, v) -> copy.put(k, v.clone()));
        return copy;
    }
}
