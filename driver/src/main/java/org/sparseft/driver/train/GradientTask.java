package org.sparseft.driver.train;

import org.apache.spark.broadcast.Broadcast;
import org.sparseft.driver.OrderedJobs;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.model.Workspaces;
import org.sparseft.train.TrainStep;

import java.util.Iterator;

/** One partition's part of a gradient-synchronised step: the mean gradient over its share of the batch. */
final class GradientTask implements OrderedJobs.PartitionTask<Shard, PartialGradient> {
    private final String run;
    private final int step;
    private final ModelConfig config;
    private final Broadcast<float[]> parameters;
    private final long seed;
    private final int share;
    private final int microBatch;

    GradientTask(String run, int step, ModelConfig config, Broadcast<float[]> parameters, long seed, int share,
                 int microBatch) {
        this.run = run;
        this.step = step;
        this.config = config;
        this.parameters = parameters;
        this.seed = seed;
        this.share = share;
        this.microBatch = microBatch;
    }

    @Override
    public PartialGradient run(int partition, Iterator<Shard> data) {
        org.sparseft.driver.TaskDevices.pin();
        Shard shard = data.next();
        ShardBatches batches = new ShardBatches(shard, seed, share, microBatch);
        DecoderModel model = Replicas.shared(run, step, config, parameters);
        Parameters grads = Workspaces.outside(model.parameters()::zerosLike);
        double loss = TrainStep.accumulate(model, batches.at(step), microBatch, batches.seqLen(), grads);
        return new PartialGradient(partition, share, loss, grads.toFlat());
    }
}
