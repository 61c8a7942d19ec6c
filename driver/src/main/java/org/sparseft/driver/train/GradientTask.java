package org.sparseft.driver.train;

import org.apache.spark.broadcast.Broadcast;
import org.sparseft.driver.exec.OrderedJobs;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;
import org.sparseft.train.Objective;

import java.util.Iterator;

/** One partition's part of a gradient-synchronised step: the mean gradient over its share of the batch. */
final class GradientTask implements OrderedJobs.PartitionTask<Shard, PartialGradient> {
    private final String run;
    private final int step;
    private final Parameters.Spec spec;
    private final Objective objective;
    private final Broadcast<float[]> parameters;
    private final long seed;
    private final int share;
    private final int microBatch;

    GradientTask(String run, int step, Parameters.Spec spec, Objective objective, Broadcast<float[]> parameters,
                 long seed, int share, int microBatch) {
        this.run = run;
        this.step = step;
        this.spec = spec;
        this.objective = objective;
        this.parameters = parameters;
        this.seed = seed;
        this.share = share;
        this.microBatch = microBatch;
    }

    @Override
    public PartialGradient run(int partition, Iterator<Shard> data) {
        org.sparseft.driver.exec.TaskDevices.pin();
        Shard shard = data.next();
        ShardBatches batches = new ShardBatches(shard, seed, share, microBatch);
        Parameters grads;
        double loss;
        try (Replicas.Lease replica = Replicas.acquire(run, step,
                () -> Parameters.fromFlat(spec, parameters.value()))) {
            grads = Workspaces.outside(replica.trained()::zerosLike);
            loss = objective.accumulate(replica.trained(), step, batches.at(step), microBatch, batches.seqLen(),
                    grads);
        }
        double norm = org.sparseft.train.AdamW.globalNorm(grads, grads.names());
        float[] flat = grads.toFlat();
        grads.release(); // off-heap memory goes back now, not at some later garbage collection
        return new PartialGradient(partition, share, loss, norm, flat);
    }
}
