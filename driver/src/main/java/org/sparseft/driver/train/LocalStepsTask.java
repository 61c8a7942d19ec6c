package org.sparseft.driver.train;

import org.apache.spark.broadcast.Broadcast;
import org.sparseft.RuntimeFailure;
import org.sparseft.driver.exec.OrderedJobs;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;
import org.sparseft.train.AdamW;
import org.sparseft.train.LearningRateSchedule;
import org.sparseft.train.Objective;
import org.sparseft.train.TrainStep;

import java.util.Iterator;

/**
 * One partition's round of parameter averaging: from the broadcast parameters and AdamW state, {@code steps} local
 * optimizer steps on its own share of each step's batch, then its parameters and moments go back for averaging.
 */
final class LocalStepsTask implements OrderedJobs.PartitionTask<Shard, PartialState> {
    private final int firstStep;
    private final int steps;
    private final Parameters.Spec spec;
    private final Objective objective;
    /** Parameters, first moment, second moment, each flat. */
    private final Broadcast<float[][]> state;
    private final long optimizerSteps;
    private final AdamW.Options adam;
    private final LearningRateSchedule schedule;
    private final double maxGradNorm;
    private final long seed;
    private final int share;
    private final int microBatch;

    LocalStepsTask(int firstStep, int steps, Parameters.Spec spec, Objective objective, Broadcast<float[][]> state,
                   long optimizerSteps,
                   AdamW.Options adam, LearningRateSchedule schedule, double maxGradNorm, long seed, int share,
                   int microBatch) {
        this.firstStep = firstStep;
        this.steps = steps;
        this.spec = spec;
        this.objective = objective;
        this.state = state;
        this.optimizerSteps = optimizerSteps;
        this.adam = adam;
        this.schedule = schedule;
        this.maxGradNorm = maxGradNorm;
        this.seed = seed;
        this.share = share;
        this.microBatch = microBatch;
    }

    @Override
    public PartialState run(int partition, Iterator<Shard> data) {
        org.sparseft.driver.exec.TaskDevices.pin();
        Shard shard = data.next();
        ShardBatches batches = new ShardBatches(shard, seed, share, microBatch);
        float[][] s = state.value();
        return Workspaces.outside(() -> {
            Parameters params = Parameters.fromFlat(spec, s[0]);
            AdamW optimizer = new AdamW(adam, Parameters.fromFlat(spec, s[1]), Parameters.fromFlat(spec, s[2]),
                    optimizerSteps);
            double lossSum = 0;
            double norm = 0;
            String failure = null;
            for (int step = firstStep; step < firstStep + steps; step++) {
                Parameters grads = params.zerosLike();
                double loss = objective.accumulate(params, step, batches.at(step), microBatch, batches.seqLen(),
                        grads);
                try {
                    norm = TrainStep.update(params, grads, loss, optimizer, schedule, step, maxGradNorm,
                            objective).gradNorm();
                } catch (RuntimeFailure e) {
                    failure = e.getMessage();
                    lossSum = Double.NaN;
                    break;
                }
                lossSum += loss;
            }
            return new PartialState(partition, share, lossSum / steps, norm, params.toFlat(),
                    optimizer.firstMoment().toFlat(), optimizer.secondMoment().toFlat(), failure);
        });
    }
}
