package org.sparseft.driver.train;

import org.apache.spark.HashPartitioner;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.storage.StorageLevel;
import org.sparseft.InvalidSettingException;
import scala.Tuple2;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Training data laid out for data-parallel steps: P partitions, each holding one {@link Shard}, cached on the
 * executors for the whole run. Block i goes to partition i mod P, so the layout depends only on the data and P,
 * and every partition carries the same number of tokens to within one block.
 */
public record TrainingShards(JavaRDD<Shard> rdd, int partitions, long blocks, int seqLen, int[] sizes,
                             String fingerprint) {

    /**
     * @param blocks fixed-length token blocks in their global order (as {@code TokenBlocks} produces them)
     */
    public static TrainingShards of(JavaRDD<int[]> blocks, int partitions) {
        if (partitions < 1) {
            throw InvalidSettingException.of("partitions", partitions, "expected at least 1");
        }
        JavaRDD<Shard> shards = blocks.zipWithIndex()
                .mapToPair(t -> new Tuple2<>((int) (t._2() % partitions), new Tuple2<>(t._2(), t._1())))
                .partitionBy(new HashPartitioner(partitions))
                .mapPartitionsWithIndex((p, it) -> {
                    List<Tuple2<Long, int[]>> mine = new ArrayList<>();
                    it.forEachRemaining(kv -> mine.add(kv._2()));
                    mine.sort((a, b) -> Long.compare(a._1(), b._1()));
                    int[][] data = new int[mine.size()][];
                    long fingerprint = 0;
                    for (int i = 0; i < data.length; i++) {
                        data[i] = mine.get(i)._2();
                        fingerprint += blockHash(mine.get(i)._1(), data[i]);
                    }
                    return Collections.singletonList(new Shard(p, data, fingerprint)).iterator();
                }, true)
                .persist(StorageLevel.MEMORY_AND_DISK());
        List<long[]> stats;
        try {
            stats = new ArrayList<>(shards.map(s -> new long[] {s.partition(), s.blocks().length,
                    s.blocks().length == 0 ? 0 : s.blocks()[0].length, s.fingerprint()}).collect());
        } catch (RuntimeException e) {
            shards.unpersist(false);
            throw e;
        }
        stats.sort((a, b) -> Long.compare(a[0], b[0]));
        int[] sizes = new int[partitions];
        long total = 0;
        long fingerprint = 0;
        int seqLen = 0;
        for (long[] s : stats) {
            sizes[(int) s[0]] = (int) s[1];
            total += s[1];
            fingerprint += s[3];
            seqLen = Math.max(seqLen, (int) s[2]);
        }
        if (total < partitions) {
            shards.unpersist(false);
            throw new InvalidSettingException("the training data has " + total + " blocks, fewer than {partitions} "
                    + partitions);
        }
        return new TrainingShards(shards, partitions, total, seqLen, sizes, String.format("%016x", fingerprint));
    }

    /**
     * A block's contribution to the data fingerprint: a 64-bit mix of its index and tokens. Contributions are added,
     * so the fingerprint does not depend on how blocks are spread over partitions.
     */
    static long blockHash(long index, int[] tokens) {
        long h = mix(index + 0x632BE59BD9B4E019L);
        for (int t : tokens) {
            h = mix(h ^ t) * 0x9E3779B97F4A7C15L;
        }
        return mix(h);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public void unpersist() {
        rdd.unpersist(false);
    }
}
