package org.sparseft.jobs.bench;

import org.sparseft.io.Json;
import org.sparseft.io.Storage;
import org.sparseft.io.tokenizer.Tokenizer;
import org.sparseft.io.tokenizer.Tokenizers;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The two ways a {@code tokenizer.json} can run, side by side on one text, in one thread (what one executor task
 * does): the hand-written byte-level BPE, where the format is one it reads, and Hugging Face's library. Load time,
 * tokens per second (the best of the repetitions, after a warm-up), and whether the ids are identical.
 */
public final class TokenizerBenchmark {
    /**
     * @param loadSeconds from the files to a ready tokenizer (the library's first load includes unpacking its
     *                    native library)
     * @param tokensPerSecond encoding throughput on the text, documents (paragraphs) one after another
     */
    public record Row(String implementation, double loadSeconds, long tokens, double tokensPerSecond,
                      boolean sameIds) {
    }

    private TokenizerBenchmark() {
    }

    public static List<Row> run(Storage storage, String dir, String text, int reps) throws IOException {
        List<String> documents = Arrays.asList(text.split("\n\n"));
        List<Row> rows = new ArrayList<>();
        int[][] reference = null;
        String tj = Storage.join(dir, Tokenizers.TOKENIZER_JSON);
        String json = new String(storage.readAllBytes(tj), StandardCharsets.UTF_8);
        if (Tokenizers.byteLevel(Json.MAPPER.readTree(json))) {
            long t0 = System.nanoTime();
            Tokenizer hand = Tokenizers.fromTokenizerJson(json, tj);
            double load = (System.nanoTime() - t0) / 1e9;
            reference = encodeAll(hand, documents);
            rows.add(row("hand-written byte-level BPE", hand, documents, load, reps, null));
        }
        long t0 = System.nanoTime();
        Tokenizer hub = Tokenizers.hub(storage, dir);
        double load = (System.nanoTime() - t0) / 1e9;
        rows.add(row("Hugging Face tokenizers (DJL)", hub, documents, load, reps, reference));
        return rows;
    }

    private static Row row(String name, Tokenizer tok, List<String> documents, double load, int reps,
                           int[][] reference) {
        int[][] ids = encodeAll(tok, documents); // warm-up
        double best = Double.MAX_VALUE;
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            encodeAll(tok, documents);
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        long tokens = Arrays.stream(ids).mapToLong(a -> a.length).sum();
        return new Row(name, load, tokens, tokens / best, reference == null || Arrays.deepEquals(reference, ids));
    }

    private static int[][] encodeAll(Tokenizer tok, List<String> documents) {
        int[][] out = new int[documents.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = tok.encode(documents.get(i));
        }
        return out;
    }
}
