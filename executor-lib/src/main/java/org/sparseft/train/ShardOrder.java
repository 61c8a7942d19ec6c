package org.sparseft.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The order in which one shard's blocks are visited: epoch after epoch, each a fresh permutation that depends only
 * on the seed, the shard number and the epoch. Position {@code k} of the endless stream is therefore a pure function
 * of those, so a resumed run needs only the step count as its data cursor. Shard 0 with seed s gives the order the
 * single-JVM {@link Trainer} uses, so a one-partition distributed run repeats it exactly.
 */
public final class ShardOrder {
    private final int size;
    private final long seed;
    private List<Integer> permutation;
    private long epoch = -1;

    public ShardOrder(int size, long seed, int shard) {
        if (size < 1) {
            throw new IllegalArgumentException("shard " + shard + " holds no blocks");
        }
        this.size = size;
        this.seed = seed + 0x9E3779B97F4A7C15L * shard;
    }

    /** Local block indices at stream positions [start, start + count). */
    public int[] take(long start, int count) {
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            long k = start + i;
            long e = k / size;
            if (e != epoch) {
                permutation = new ArrayList<>(size);
                for (int j = 0; j < size; j++) {
                    permutation.add(j);
                }
                Collections.shuffle(permutation, new Random(seed * 31 + e));
                epoch = e;
            }
            out[i] = permutation.get((int) (k % size));
        }
        return out;
    }
}
