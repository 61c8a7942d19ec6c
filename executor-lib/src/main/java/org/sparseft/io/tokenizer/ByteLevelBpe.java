package org.sparseft.io.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.sparseft.io.Json;

/**
 * Byte-level BPE, as GPT-2 defines it: text is split into pieces by a regular expression, each piece's UTF-8 bytes
 * are mapped to printable characters ({@link #byteToUnicode()}), and adjacent symbols are merged, lowest merge rank
 * first, every occurrence of the chosen pair at once, until no ranked pair remains. Special tokens found in the text
 * are matched whole before splitting, as Hugging Face tokenizers do.
 *
 * <p>With no merges and the 256 byte symbols as ids 0..255 this is the plain byte tokenizer ({@link #bytes()}).
 */
public final class ByteLevelBpe implements Tokenizer {
    /** GPT-2's pre-tokenization pattern (contractions, letters, numbers, other, whitespace). */
    public static final String GPT2_PATTERN =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    public static final String END_OF_TEXT = "<|endoftext|>";
    private static final char[] BYTE_TO_CHAR = buildByteToUnicode();
    private static final Map<Character, Integer> CHAR_TO_BYTE = invert(BYTE_TO_CHAR);
    private static final int CACHE_LIMIT = 200_000;

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    private final List<String[]> merges;
    private final Map<String, Integer> mergeRank; // "a b" -> rank
    private final Map<String, Integer> specials;  // added tokens matched whole
    private final Pattern specialPattern;
    private final String pattern;
    private final Pattern splitter;
    private final boolean ignoreMerges;
    private final String kind;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    ByteLevelBpe(Map<String, Integer> vocab, List<String[]> merges, Map<String, Integer> specials, String pattern,
                 boolean ignoreMerges, String kind) {
        this.vocab = Collections.unmodifiableMap(new LinkedHashMap<>(vocab));
        this.merges = List.copyOf(merges);
        this.specials = Collections.unmodifiableMap(new LinkedHashMap<>(specials));
        this.pattern = pattern;
        this.splitter = Pattern.compile(pattern, Pattern.UNICODE_CHARACTER_CLASS);
        this.ignoreMerges = ignoreMerges;
        this.kind = kind;
        int size = 0;
        for (int id : vocab.values()) {
            size = Math.max(size, id + 1);
        }
        for (int id : specials.values()) {
            size = Math.max(size, id + 1);
        }
        this.idToToken = new String[size];
        vocab.forEach((tok, id) -> idToToken[id] = tok);
        specials.forEach((tok, id) -> idToToken[id] = tok);
        this.mergeRank = new HashMap<>();
        for (int i = 0; i < merges.size(); i++) {
            mergeRank.putIfAbsent(merges.get(i)[0] + " " + merges.get(i)[1], i);
        }
        List<String> quoted = new ArrayList<>();
        specials.keySet().stream().sorted((a, b) -> b.length() - a.length()).forEach(s -> quoted.add(Pattern.quote(s)));
        this.specialPattern = quoted.isEmpty() ? null : Pattern.compile(String.join("|", quoted));
    }

    /** The byte tokenizer: ids 0..255 are the bytes, 256 is {@code <|endoftext|>}. */
    public static ByteLevelBpe bytes() {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int b = 0; b < 256; b++) {
            vocab.put(String.valueOf(BYTE_TO_CHAR[b]), b);
        }
        return new ByteLevelBpe(vocab, List.of(), Map.of(END_OF_TEXT, 256), GPT2_PATTERN, false, "byte");
    }

    /** GPT-2's printable stand-ins for the 256 byte values. */
    public static char[] byteToUnicode() {
        return BYTE_TO_CHAR.clone();
    }

    private static char[] buildByteToUnicode() {
        char[] map = new char[256];
        boolean[] printable = new boolean[256];
        for (int b = '!'; b <= '~'; b++) {
            printable[b] = true;
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            printable[b] = true;
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            printable[b] = true;
        }
        int next = 256;
        for (int b = 0; b < 256; b++) {
            map[b] = printable[b] ? (char) b : (char) next++;
        }
        return map;
    }

    private static Map<Character, Integer> invert(char[] map) {
        Map<Character, Integer> inv = new HashMap<>();
        for (int b = 0; b < map.length; b++) {
            inv.put(map[b], b);
        }
        return inv;
    }

    @Override
    public int[] encode(String text) {
        List<Integer> out = new ArrayList<>(text.length() / 3 + 4);
        if (specialPattern == null) {
            encodeOrdinary(text, out);
        } else {
            Matcher m = specialPattern.matcher(text);
            int start = 0;
            while (m.find()) {
                encodeOrdinary(text.substring(start, m.start()), out);
                out.add(specials.get(m.group()));
                start = m.end();
            }
            encodeOrdinary(text.substring(start), out);
        }
        int[] ids = new int[out.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = out.get(i);
        }
        return ids;
    }

    private void encodeOrdinary(String text, List<Integer> out) {
        if (text.isEmpty()) {
            return;
        }
        // Like Hugging Face's Split(behavior = Isolated): matches are pieces, and so is any text between them
        // (GPT-2's pattern matches every character, other patterns may not).
        Matcher m = splitter.matcher(text);
        int end = 0;
        while (m.find()) {
            if (m.start() > end) {
                addPiece(text.substring(end, m.start()), out);
            }
            addPiece(m.group(), out);
            end = m.end();
        }
        if (end < text.length()) {
            addPiece(text.substring(end), out);
        }
    }

    private void addPiece(String piece, List<Integer> out) {
        for (int id : encodePiece(piece)) {
            out.add(id);
        }
    }

    private int[] encodePiece(String piece) {
        int[] cached = cache.get(piece);
        if (cached != null) {
            return cached;
        }
        byte[] utf8 = piece.getBytes(StandardCharsets.UTF_8);
        StringBuilder mapped = new StringBuilder(utf8.length);
        for (byte b : utf8) {
            mapped.append(BYTE_TO_CHAR[b & 0xff]);
        }
        String word = mapped.toString();
        List<String> symbols;
        Integer whole = ignoreMerges ? vocab.get(word) : null;
        symbols = whole != null ? List.of(word) : merge(word);
        int[] ids = new int[symbols.size()];
        for (int i = 0; i < ids.length; i++) {
            Integer id = vocab.get(symbols.get(i));
            if (id == null) {
                throw new IllegalStateException("byte-level BPE: symbol '" + symbols.get(i) + "' has no id; the"
                        + " vocabulary lacks a byte symbol or a merge result");
            }
            ids[i] = id;
        }
        if (cache.size() > CACHE_LIMIT) {
            cache.clear();
        }
        cache.put(piece, ids);
        return ids;
    }

    /** GPT-2's merge loop: repeatedly merge every occurrence of the best-ranked adjacent pair. */
    private List<String> merge(String word) {
        List<String> symbols = new ArrayList<>(word.length());
        for (int i = 0; i < word.length(); i++) {
            symbols.add(String.valueOf(word.charAt(i)));
        }
        if (mergeRank.isEmpty()) {
            return symbols;
        }
        while (symbols.size() > 1) {
            int bestRank = Integer.MAX_VALUE;
            String bestFirst = null;
            String bestSecond = null;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer r = mergeRank.get(symbols.get(i) + " " + symbols.get(i + 1));
                if (r != null && r < bestRank) {
                    bestRank = r;
                    bestFirst = symbols.get(i);
                    bestSecond = symbols.get(i + 1);
                }
            }
            if (bestFirst == null) {
                break;
            }
            List<String> next = new ArrayList<>(symbols.size());
            for (int i = 0; i < symbols.size(); ) {
                if (i + 1 < symbols.size() && symbols.get(i).equals(bestFirst) && symbols.get(i + 1).equals(bestSecond)) {
                    next.add(bestFirst + bestSecond);
                    i += 2;
                } else {
                    next.add(symbols.get(i));
                    i++;
                }
            }
            symbols = next;
        }
        return symbols;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(ids.length * 3);
        StringBuilder text = new StringBuilder();
        for (int id : ids) {
            if (id < 0 || id >= idToToken.length || idToToken[id] == null) {
                throw new IllegalArgumentException("token id " + id + " is not in the vocabulary (size "
                        + vocabSize() + ")");
            }
            String tok = idToToken[id];
            if (specials.containsKey(tok)) {
                flushBytes(bytes, text);
                text.append(tok);
                continue;
            }
            for (int i = 0; i < tok.length(); i++) {
                Integer b = CHAR_TO_BYTE.get(tok.charAt(i));
                if (b == null) {
                    throw new IllegalStateException("token '" + tok + "' holds a character outside the byte map");
                }
                bytes.write(b);
            }
        }
        flushBytes(bytes, text);
        return text.toString();
    }

    private static void flushBytes(ByteArrayOutputStream bytes, StringBuilder text) {
        if (bytes.size() == 0) {
            return;
        }
        try {
            // Invalid UTF-8 (a multi-byte character cut between tokens) decodes to U+FFFD, as Hugging Face does.
            text.append(StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPLACE)
                    .onUnmappableCharacter(CodingErrorAction.REPLACE)
                    .decode(ByteBuffer.wrap(bytes.toByteArray())));
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalStateException(e); // cannot happen with REPLACE
        }
        bytes.reset();
    }

    @Override
    public int vocabSize() {
        return idToToken.length;
    }

    @Override
    public int eosId() {
        Integer id = specials.get(END_OF_TEXT);
        if (id == null) {
            id = vocab.get(END_OF_TEXT);
        }
        return id == null ? -1 : id;
    }

    /** The id of a token string (ordinary or special), or -1. */
    public int idOf(String token) {
        Integer id = vocab.get(token);
        if (id == null) {
            id = specials.get(token);
        }
        return id == null ? -1 : id;
    }

    public int mergeCount() {
        return merges.size();
    }

    @Override
    public String describe() {
        return kind + " (vocabulary " + vocabSize() + ", " + merges.size() + " merges)";
    }

    /** tokenizer.json in the Hugging Face tokenizers format, which {@link Tokenizers#load} reads back. */
    @Override
    public Map<String, byte[]> files() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        specials.forEach((tok, id) -> added.addObject().put("id", id).put("content", tok).put("single_word", false)
                .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true));
        root.putNull("normalizer");
        ObjectNode byteLevel = Json.MAPPER.createObjectNode().put("type", "ByteLevel").put("add_prefix_space", false)
                .put("trim_offsets", true);
        if (pattern.equals(GPT2_PATTERN)) {
            root.set("pre_tokenizer", byteLevel.deepCopy().put("use_regex", true));
        } else {
            ObjectNode seq = root.putObject("pre_tokenizer").put("type", "Sequence");
            ArrayNode list = seq.putArray("pretokenizers");
            ObjectNode split = list.addObject().put("type", "Split");
            split.putObject("pattern").put("Regex", pattern);
            split.put("behavior", "Isolated").put("invert", false);
            list.add(byteLevel.deepCopy().put("use_regex", false));
        }
        root.putNull("post_processor");
        root.set("decoder", byteLevel.deepCopy().put("use_regex", true));
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", ignoreMerges);
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        ArrayNode m = model.putArray("merges");
        for (String[] pair : merges) {
            m.add(pair[0] + " " + pair[1]);
        }
        try {
            return Map.of(Tokenizers.TOKENIZER_JSON, Json.PRETTY.writeValueAsBytes(root));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
