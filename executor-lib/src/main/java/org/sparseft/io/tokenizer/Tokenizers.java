package org.sparseft.io.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import org.sparseft.BadInputException;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds and loads the tokenizer of a model directory: {@code tokenizer.json} (byte-level BPE by the hand-written
 * {@link ByteLevelBpe}, every other format by Hugging Face's library, {@link HubTokenizer}) or GPT-2's
 * {@code vocab.json} + {@code merges.txt}. The name {@code byte} selects the built-in byte tokenizer.
 */
public final class Tokenizers {
    public static final String TOKENIZER_JSON = "tokenizer.json";
    public static final String TOKENIZER_CONFIG_JSON = "tokenizer_config.json";
    public static final String VOCAB_JSON = "vocab.json";
    public static final String MERGES_TXT = "merges.txt";
    public static final String BYTE = "byte";

    private Tokenizers() {
    }

    /** {@code byte}, or a directory holding tokenizer files. */
    public static Tokenizer load(Storage storage, String spec) throws IOException {
        if (spec.equals(BYTE)) {
            return ByteLevelBpe.bytes();
        }
        if (!storage.exists(spec)) {
            throw BadInputException.at(spec, "tokenizer directory does not exist (expected '" + BYTE
                    + "' or a directory with " + TOKENIZER_JSON + " or " + VOCAB_JSON + " + " + MERGES_TXT + ")");
        }
        if (!storage.isDirectory(spec)) {
            throw BadInputException.at(spec, "expected a directory with tokenizer files, found a file");
        }
        String tj = Storage.join(spec, TOKENIZER_JSON);
        if (storage.exists(tj)) {
            byte[] bytes = storage.readAllBytes(tj);
            JsonNode root = readJson(new String(bytes, StandardCharsets.UTF_8), tj);
            return byteLevel(root) ? fromTokenizerJson(root, tj) : hub(storage, spec, bytes, root);
        }
        String vj = Storage.join(spec, VOCAB_JSON);
        String mt = Storage.join(spec, MERGES_TXT);
        if (storage.exists(vj) && storage.exists(mt)) {
            return fromVocabAndMerges(new String(storage.readAllBytes(vj), StandardCharsets.UTF_8), vj,
                    new String(storage.readAllBytes(mt), StandardCharsets.UTF_8), mt);
        }
        throw BadInputException.at(spec, "no tokenizer found: expected " + TOKENIZER_JSON + ", or " + VOCAB_JSON
                + " and " + MERGES_TXT);
    }

    /**
     * Whether a {@code tokenizer.json} is the byte-level BPE the hand-written {@link ByteLevelBpe} reads (GPT-2 and
     * LLaMA-3 style: no normalizer, no byte fallback, a ByteLevel pre-tokenizer alone or after a Split, added tokens
     * without strip flags, no special-token template); every other format goes to Hugging Face's own library
     * ({@link HubTokenizer}). Both give the same ids where both apply; the library is faster, the hand-written one
     * delimits documents with {@code <|endoftext|>} as every recorded figure was measured (docs/results.md).
     */
    public static boolean byteLevel(JsonNode root) {
        JsonNode model = root.path("model");
        if (!model.path("type").asText("").equals("BPE") || root.hasNonNull("normalizer")
                || model.path("byte_fallback").asBoolean(false)) {
            return false;
        }
        for (JsonNode a : root.path("added_tokens")) {
            for (String flag : List.of("lstrip", "rstrip", "single_word")) {
                if (a.path(flag).asBoolean(false)) {
                    return false;
                }
            }
        }
        if (root.path("post_processor").toString().contains("TemplateProcessing")) {
            return false; // special tokens around each document (LLaMA-3's <|begin_of_text|>): the library's way
        }
        JsonNode pre = root.path("pre_tokenizer");
        String type = pre.path("type").asText("");
        if (type.equals("ByteLevel")) {
            return true;
        }
        JsonNode list = pre.path("pretokenizers");
        return type.equals("Sequence") && list.size() == 2 && list.get(0).path("type").asText("").equals("Split")
                && list.get(1).path("type").asText("").equals("ByteLevel");
    }

    /**
     * The {@code tokenizer.json} of directory {@code dir} (with its {@code tokenizer_config.json}, if any) run by
     * Hugging Face's library, whatever its format.
     */
    public static HubTokenizer hub(Storage storage, String dir) throws IOException {
        String tj = Storage.join(dir, TOKENIZER_JSON);
        byte[] bytes = storage.readAllBytes(tj);
        return hub(storage, dir, bytes, readJson(new String(bytes, StandardCharsets.UTF_8), tj));
    }

    /** As {@link #hub(Storage, String)}, with {@code tokenizer.json} already read and parsed. */
    private static HubTokenizer hub(Storage storage, String dir, byte[] bytes, JsonNode root) throws IOException {
        String tj = Storage.join(dir, TOKENIZER_JSON);
        String tc = Storage.join(dir, TOKENIZER_CONFIG_JSON);
        byte[] configBytes = storage.exists(tc) ? storage.readAllBytes(tc) : null;
        JsonNode config = configBytes == null ? null : readJson(new String(configBytes, StandardCharsets.UTF_8), tc);
        return HubTokenizer.of(root, bytes, tj, config, configBytes);
    }

    /** The spec as tasks must see it: {@code byte}, or the directory's fully qualified URI. */
    public static String qualify(Storage storage, String spec) {
        return spec.equals(BYTE) ? spec : storage.qualify(spec);
    }

    /** Whether a directory holds tokenizer files. */
    public static boolean present(Storage storage, String dir) throws IOException {
        return storage.exists(Storage.join(dir, TOKENIZER_JSON))
                || (storage.exists(Storage.join(dir, VOCAB_JSON)) && storage.exists(Storage.join(dir, MERGES_TXT)));
    }

    /** GPT-2's published form: an encoder (token to id) JSON and a merges file with an optional #version line. */
    public static ByteLevelBpe fromVocabAndMerges(String vocabJson, String vocabSource, String mergesText,
                                                  String mergesSource) {
        Map<String, Integer> vocab = parseVocab(readJson(vocabJson, vocabSource), vocabSource, "");
        List<String[]> merges = new ArrayList<>();
        String[] lines = mergesText.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].endsWith("\r") ? lines[i].substring(0, lines[i].length() - 1) : lines[i];
            if (line.isEmpty() || (i == 0 && line.startsWith("#version"))) {
                continue;
            }
            String[] pair = line.split(" ", -1);
            if (pair.length != 2 || pair[0].isEmpty() || pair[1].isEmpty()) {
                throw BadInputException.at(mergesSource + " line " + (i + 1), "expected two symbols separated by"
                        + " one space, found \"" + line + "\"");
            }
            merges.add(pair);
        }
        Map<String, Integer> specials = new LinkedHashMap<>();
        Integer eos = vocab.get(ByteLevelBpe.END_OF_TEXT);
        if (eos != null) {
            specials.put(ByteLevelBpe.END_OF_TEXT, eos);
        }
        return build(vocab, merges, specials, ByteLevelBpe.GPT2_PATTERN, false, "gpt2-bpe", vocabSource, mergesSource);
    }

    public static ByteLevelBpe fromTokenizerJson(String text, String source) {
        return fromTokenizerJson(readJson(text, source), source);
    }

    private static ByteLevelBpe fromTokenizerJson(JsonNode root, String source) {
        JsonNode model = root.get("model");
        if (model == null || !model.isObject()) {
            throw BadInputException.at(source, "field 'model' missing or not an object");
        }
        String type = model.path("type").asText("");
        if (!type.equals("BPE")) {
            throw BadInputException.at(source, "model.type is \"" + type + "\"; sparseft reads byte-level BPE"
                    + " tokenizers only");
        }
        if (root.hasNonNull("normalizer")) {
            throw BadInputException.at(source, "field 'normalizer' is set (" + root.get("normalizer").path("type")
                    .asText() + "); sparseft reads byte-level BPE tokenizers without normalizers (GPT-2, LLaMA-3 style);"
                    + " SentencePiece-style tokenizers are not supported");
        }
        if (model.path("byte_fallback").asBoolean(false)) {
            throw BadInputException.at(source, "model.byte_fallback is true (SentencePiece style); not supported");
        }
        String pattern = preTokenizerPattern(root.get("pre_tokenizer"), source);
        Map<String, Integer> vocab = parseVocab(model.get("vocab"), source, "model.");
        List<String[]> merges = new ArrayList<>();
        JsonNode ms = model.get("merges");
        if (ms == null || !ms.isArray()) {
            throw BadInputException.at(source, "field 'model.merges' missing or not an array");
        }
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            String[] pair;
            if (m.isTextual()) {
                pair = m.asText().split(" ", -1);
            } else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
                pair = new String[] {m.get(0).asText(), m.get(1).asText()};
            } else {
                pair = new String[0];
            }
            if (pair.length != 2 || pair[0].isEmpty() || pair[1].isEmpty()) {
                throw BadInputException.at(source, "model.merges[" + i + "] = " + m
                        + ": expected \"a b\" or [\"a\", \"b\"]");
            }
            merges.add(pair);
        }
        Map<String, Integer> specials = new LinkedHashMap<>();
        JsonNode added = root.get("added_tokens");
        if (added != null && !added.isNull()) {
            if (!added.isArray()) {
                throw BadInputException.at(source, "field 'added_tokens' must be an array");
            }
            for (int i = 0; i < added.size(); i++) {
                JsonNode a = added.get(i);
                if (!a.path("content").isTextual() || a.path("content").asText().isEmpty()
                        || !a.path("id").canConvertToInt() || a.path("id").asInt() < 0) {
                    throw BadInputException.at(source, "added_tokens[" + i + "] needs a non-empty string 'content' and"
                            + " a non-negative integer 'id'");
                }
                for (String flag : List.of("lstrip", "rstrip", "single_word")) {
                    if (a.path(flag).asBoolean(false)) {
                        throw BadInputException.at(source, "added_tokens[" + i + "]." + flag + " = true is not"
                                + " supported");
                    }
                }
                specials.put(a.get("content").asText(), a.get("id").asInt());
            }
        }
        return build(vocab, merges, specials, pattern, model.path("ignore_merges").asBoolean(false), "bpe", source, source);
    }

    private static String preTokenizerPattern(JsonNode pre, String source) {
        if (pre == null || pre.isNull()) {
            throw BadInputException.at(source, "field 'pre_tokenizer' is missing; a byte-level BPE needs ByteLevel");
        }
        String type = pre.path("type").asText("");
        if (type.equals("ByteLevel")) {
            if (pre.path("add_prefix_space").asBoolean(false)) {
                throw BadInputException.at(source, "pre_tokenizer.add_prefix_space = true is not supported");
            }
            if (!pre.path("use_regex").asBoolean(true)) {
                throw BadInputException.at(source, "pre_tokenizer ByteLevel with use_regex = false needs a Split"
                        + " before it");
            }
            return ByteLevelBpe.GPT2_PATTERN;
        }
        if (type.equals("Sequence")) {
            JsonNode list = pre.path("pretokenizers");
            if (list.size() == 2 && list.get(0).path("type").asText("").equals("Split")
                    && list.get(0).path("pattern").path("Regex").isTextual()
                    && list.get(0).path("behavior").asText("").equals("Isolated")
                    && !list.get(0).path("invert").asBoolean(false)
                    && list.get(1).path("type").asText("").equals("ByteLevel")
                    && !list.get(1).path("use_regex").asBoolean(true)
                    && !list.get(1).path("add_prefix_space").asBoolean(false)) {
                String regex = list.get(0).path("pattern").path("Regex").asText();
                try {
                    java.util.regex.Pattern.compile(regex, java.util.regex.Pattern.UNICODE_CHARACTER_CLASS);
                } catch (java.util.regex.PatternSyntaxException e) {
                    throw BadInputException.at(source, "pre_tokenizer Split regex does not compile: "
                            + e.getDescription());
                }
                return regex;
            }
        }
        throw BadInputException.at(source, "pre_tokenizer " + pre + " is not supported; expected ByteLevel, or"
                + " Sequence[Split(Regex, Isolated), ByteLevel(use_regex=false)]");
    }

    private static JsonNode readJson(String text, String source) {
        try {
            JsonNode n = Json.MAPPER.readTree(text);
            if (n == null || !n.isObject()) {
                throw BadInputException.at(source, "expected a JSON object");
            }
            return n;
        } catch (JsonProcessingException e) {
            throw BadInputException.at(source, "not valid JSON: " + e.getOriginalMessage());
        }
    }

    private static Map<String, Integer> parseVocab(JsonNode node, String source, String prefix) {
        if (node == null || !node.isObject() || node.isEmpty()) {
            throw BadInputException.at(source, "field '" + prefix + "vocab' must be a non-empty object of token to id");
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        Map<Integer, String> byId = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode id = e.getValue();
            if (!id.isIntegralNumber() || !id.canConvertToInt() || id.asInt() < 0) {
                throw BadInputException.at(source, prefix + "vocab['" + e.getKey() + "'] = " + id
                        + ", expected a non-negative integer id");
            }
            String previous = byId.put(id.asInt(), e.getKey());
            if (previous != null) {
                throw BadInputException.at(source, "tokens '" + previous + "' and '" + e.getKey() + "' share id " + id);
            }
            vocab.put(e.getKey(), id.asInt());
        }
        return vocab;
    }

    private static ByteLevelBpe build(Map<String, Integer> vocab, List<String[]> merges, Map<String, Integer> specials,
                                      String pattern, boolean ignoreMerges, String kind, String vocabSource,
                                      String mergesSource) {
        char[] byteChars = ByteLevelBpe.byteToUnicode();
        for (int b = 0; b < 256; b++) {
            if (!vocab.containsKey(String.valueOf(byteChars[b]))) {
                throw BadInputException.at(vocabSource, String.format("vocabulary lacks the byte symbol for 0x%02x; a"
                        + " byte-level BPE needs all 256", b));
            }
        }
        // Ids index arrays: bound them, so a hostile file cannot ask for a huge allocation.
        long limit = (long) vocab.size() + specials.size();
        Map<Integer, String> byId = new HashMap<>();
        vocab.forEach((tok, id) -> byId.put(id, tok));
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            if (e.getValue() >= limit) {
                throw BadInputException.at(vocabSource, "token '" + e.getKey() + "' has id " + e.getValue()
                        + ", beyond the vocabulary's " + limit + " entries");
            }
        }
        for (Map.Entry<String, Integer> e : specials.entrySet()) {
            String holder = byId.get(e.getValue());
            if (e.getValue() >= limit || (holder != null && !holder.equals(e.getKey()))) {
                throw BadInputException.at(vocabSource, "special token '" + e.getKey() + "' has id " + e.getValue()
                        + (holder != null ? ", which belongs to token '" + holder + "'" : ", beyond the vocabulary"));
            }
        }
        for (int i = 0; i < merges.size(); i++) {
            String[] p = merges.get(i);
            if (!vocab.containsKey(p[0]) || !vocab.containsKey(p[1]) || !vocab.containsKey(p[0] + p[1])) {
                throw BadInputException.at(mergesSource, "merge " + (i + 1) + " \"" + p[0] + " " + p[1]
                        + "\" uses or makes a symbol missing from the vocabulary");
            }
        }
        return new ByteLevelBpe(vocab, merges, specials, pattern, ignoreMerges, kind);
    }
}
