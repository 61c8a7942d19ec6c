package org.sparseft.driver.data;

import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.broadcast.Broadcast;
import org.sparseft.BadInputException;
import org.sparseft.driver.ExecutorStorage;
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
 * Tokenization in parallel and the cut into fixed-length blocks. The documents' token streams (each followed by the
 * end-of-text id, when the tokenizer has one) are concatenated in document order and cut every T tokens; the
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
            int eos = tok.eosId();
            List<int[]> out = new ArrayList<>();
            while (it.hasNext()) {
                int[] ids = tok.encode(it.next().text());
                if (eos >= 0) {
                    ids = java.util.Arrays.copyOf(ids, ids.length + 1);
                    ids[ids.length - 1] = eos;
                }
                out.add(ids);
            }
            return out.iterator();
        }, true);
    }

    /** Fixed-length blocks of {@code seqLen} tokens, in stream order. */
    public static JavaRDD<int[]> blocks(JavaRDD<int[]> tokenDocs, int seqLen) {
        if (seqLen < 2) {
            throw new BadInputException("--seqlen " + seqLen + ": expected at least 2");
        }
        List<Tuple2<Integer, Long>> counts = tokenDocs.mapPartitionsWithIndex((idx, it) -> {
            long n = 0;
            while (it.hasNext()) {
                n += it.next().length;
            }
            return Collections.singletonList(new Tuple2<>(idx, n)).iterator();
        }, true).collect();
        long[] offsets = new long[counts.size()];
        long total = 0;
        List<Tuple2<Integer, Long>> ordered = new ArrayList<>(counts);
        ordered.sort((a, b) -> Integer.compare(a._1(), b._1()));
        for (Tuple2<Integer, Long> c : ordered) {
            offsets[c._1()] = total;
            total += c._2();
        }
        long nBlocks = total / seqLen;
        if (nBlocks == 0) {
            throw new BadInputException("the data has " + total + " tokens, fewer than one block of --seqlen "
                    + seqLen);
        }
        Broadcast<long[]> starts = JavaRDD.toRDD(tokenDocs).sparkContext().broadcast(offsets,
                scala.reflect.ClassTag$.MODULE$.apply(long[].class));
        long limit = nBlocks * seqLen;
        JavaPairRDD<Long, Piece> pieces = tokenDocs.mapPartitionsWithIndex((idx, it) -> {
            long g = starts.value()[idx];
            List<Tuple2<Long, Piece>> out = new ArrayList<>();
            while (it.hasNext()) {
                int[] doc = it.next();
                int i = 0;
                while (i < doc.length && g < limit) {
                    long block = g / seqLen;
                    int offset = (int) (g % seqLen);
                    int n = (int) Math.min(doc.length - i, Math.min(seqLen - offset, limit - g));
                    out.add(new Tuple2<>(block, new Piece(offset, java.util.Arrays.copyOfRange(doc, i, i + n))));
                    i += n;
                    g += n;
                }
                g += doc.length - i;
            }
            return out.iterator();
        }, true).mapToPair(t -> t);
        return pieces.groupByKey().sortByKey(true, Math.max(1, tokenDocs.getNumPartitions())).map(kv -> {
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
