package org.sparseft.driver.data;

import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.sparseft.InvalidSettingException;
import org.sparseft.driver.exec.ExecutorStorage;
import org.sparseft.io.tokenizer.Tokenizer;
import org.sparseft.io.tokenizer.Tokenizers;
import scala.Tuple2;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Tokenization in parallel and the cut into fixed-length blocks. The documents' token streams (each as
 * {@link Tokenizer#encodeDocument} gives it: followed by the end-of-text id, or within the special tokens of a hub
 * tokenizer's template) are concatenated in document order and cut every T tokens; the
 * incomplete tail is dropped. Block i is the same on every run, whatever the number of partitions.
 */
public final class TokenBlocks {
    private static final Map<String, Tokenizer> TOKENIZERS = new ConcurrentHashMap<>();

    private TokenBlocks() {
    }

    /** A slice of one block, produced by one partition; the pieces of a block never overlap. */
    public record Piece(int offset, int[] tokens) implements Serializable {
    }

    /** The tokenizer {@code spec} ({@code byte} or a directory), loaded once per JVM. */
    public static Tokenizer tokenizer(String spec) {
        return TOKENIZERS.computeIfAbsent(spec, s -> {
            try {
                return Tokenizers.load(ExecutorStorage.get(), s);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** Token ids per document, in document order. */
    public static JavaRDD<int[]> tokenize(JavaRDD<Document> docs, String tokenizerSpec) {
        return docs.mapPartitions(it -> {
            Tokenizer tok = tokenizer(tokenizerSpec);
            List<int[]> out = new ArrayList<>();
            while (it.hasNext()) {
                out.add(tok.encodeDocument(it.next().text()));
            }
            return out.iterator();
        }, true);
    }

    /** Blocks, cached and materialized (unpersist when done), and the size of what they were cut from. */
    public record Result(JavaRDD<int[]> blocks, long count, long sequences, long tokens) {
    }

    /**
     * Fixed-length blocks of {@code seqLen} tokens, in stream order. The input is traversed twice (sizes, then
     * cuts), so it is persisted meanwhile: tokenization runs once.
     */
    public static Result blocks(JavaRDD<int[]> sequences, int seqLen) {
        if (seqLen < 2) {
            throw InvalidSettingException.of("seqlen", seqLen, "expected at least 2");
        }
        JavaRDD<int[]> input = sequences.persist(StorageLevel.MEMORY_AND_DISK());
        try {
            List<Tuple2<Integer, long[]>> sizes = input.mapPartitionsWithIndex((idx, it) -> {
                long seqs = 0;
                long tokens = 0;
                while (it.hasNext()) {
                    tokens += it.next().length;
                    seqs++;
                }
                return Collections.singletonList(new Tuple2<>(idx, new long[] {seqs, tokens})).iterator();
            }, true).collect();
            long[] offsets = new long[sizes.size()];
            long total = 0;
            long nSequences = 0;
            List<Tuple2<Integer, long[]>> ordered = new ArrayList<>(sizes);
            ordered.sort((a, b) -> Integer.compare(a._1(), b._1()));
            for (Tuple2<Integer, long[]> c : ordered) {
                offsets[c._1()] = total;
                nSequences += c._2()[0];
                total += c._2()[1];
            }
            long nBlocks = total / seqLen;
            if (nBlocks == 0) {
                throw new InvalidSettingException("the data has " + total + " tokens, fewer than one block of {seqlen} "
                        + seqLen);
            }
            JavaRDD<int[]> blocks = cut(input, offsets, nBlocks, seqLen).persist(StorageLevel.MEMORY_AND_DISK());
            long count = blocks.count();
            return new Result(blocks, count, nSequences, total);
        } finally {
            input.unpersist(false);
        }
    }

    private static JavaRDD<int[]> cut(JavaRDD<int[]> input, long[] offsets, long nBlocks, int seqLen) {
        Broadcast<long[]> starts = JavaRDD.toRDD(input).sparkContext().broadcast(offsets,
                scala.reflect.ClassTag$.MODULE$.apply(long[].class));
        long limit = nBlocks * seqLen;
        JavaPairRDD<Long, Piece> pieces = input.mapPartitionsWithIndex((idx, it) -> {
            long g = starts.value()[idx];
            List<Tuple2<Long, Piece>> out = new ArrayList<>();
            while (it.hasNext()) {
                int[] seq = it.next();
                int i = 0;
                while (i < seq.length && g < limit) {
                    long block = g / seqLen;
                    int offset = (int) (g % seqLen);
                    int n = (int) Math.min(seq.length - i, Math.min(seqLen - offset, limit - g));
                    out.add(new Tuple2<>(block, new Piece(offset, java.util.Arrays.copyOfRange(seq, i, i + n))));
                    i += n;
                    g += n;
                }
                g += seq.length - i;
            }
            return out.iterator();
        }, true).mapToPair(t -> t);
        return pieces.groupByKey().sortByKey(true, Math.max(1, input.getNumPartitions())).map(kv -> {
            int[] block = new int[seqLen];
            int filled = 0;
            for (Piece p : kv._2()) {
                System.arraycopy(p.tokens(), 0, block, p.offset(), p.tokens().length);
                filled += p.tokens().length;
            }
            if (filled != seqLen) {
                throw new IllegalStateException("block " + kv._1() + " assembled " + filled + " of " + seqLen + " tokens");
            }
            return block;
        });
    }
}
