package org.sparseft.driver.train;

import org.sparseft.train.ShardOrder;

import java.util.ArrayList;
import java.util.List;

/** The sequences a partition trains on at a given step, cut into micro-batches of token ids. */
final class ShardBatches {
    private final Shard shard;
    private final ShardOrder order;
    private final int share;
    private final int microBatch;

    /**
     * @param share sequences this partition contributes to every step
     * @param microBatch sequences per forward/backward pass; divides {@code share}
     */
    ShardBatches(Shard shard, long seed, int share, int microBatch) {
        this.shard = shard;
        this.order = new ShardOrder(shard.blocks().length, seed, shard.partition());
        this.share = share;
        this.microBatch = microBatch;
    }

    /** Step {@code step}'s micro-batches: stream positions [step·share, (step + 1)·share) of the shard's order. */
    List<int[]> at(int step) {
        int seqLen = shard.blocks()[0].length;
        int[] picked = order.take((long) step * share, share);
        List<int[]> micro = new ArrayList<>(share / microBatch);
        for (int start = 0; start < share; start += microBatch) {
            int[] tokens = new int[microBatch * seqLen];
            for (int b = 0; b < microBatch; b++) {
                System.arraycopy(shard.blocks()[picked[start + b]], 0, tokens, b * seqLen, seqLen);
            }
            micro.add(tokens);
        }
        return micro;
    }

    int microBatch() {
        return microBatch;
    }

    int seqLen() {
        return shard.blocks()[0].length;
    }
}
