package org.sparseft.driver.train;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.InvalidSettingException;
import org.sparseft.RuntimeFailure;
import org.sparseft.driver.exec.OrderedJobs;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;
import org.sparseft.train.AdamW;
import org.sparseft.train.AdaptiveObjective;
import org.sparseft.train.LearningRateSchedule;
import org.sparseft.train.Objective;
import org.sparseft.train.TrainStep;
import org.sparseft.train.TrainedValues;

import java.io.IOException;
import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;

/**
 * Synchronous data-parallel training on Spark. Every partition holds a {@link Shard} and contributes an equal share
 * of each step's batch; the driver owns the parameters and the optimizer.
 * <ul>
 * <li>{@link Sync#GRAD}: each step is one Spark job. The parameters go out as a broadcast, each partition returns
 * its mean gradient, the driver adds them weighted by share in partition-id order ({@link OrderedJobs}), then clips
 * and applies AdamW.</li>
 * <li>{@link Sync#AVERAGE}: each round of {@code every} steps is one job. Each partition runs the steps locally
 * with its own copy of the parameters and AdamW state; the driver averages parameters and both moments (what
 * DL4J's Spark parameter averaging does, with its updater averaging on).</li>
 * <li>{@link Sync#SHARDED}: as {@link Sync#GRAD}, bit for bit, with the driver off the data path: the parameters
 * and AdamW state stay on the executors in one chunk per partition, gradients are reduce-scattered and parameters
 * all-gathered through Spark's shuffle, and the driver receives only losses and norms ({@link ShardedSync}). It
 * gathers the parameters only for a checkpoint or a validation pass; a method's state (AST's masks) is derived
 * where the chunks are ({@link TrainedValues#perPart}).</li>
 * </ul>
 * Same seed, data and partition count give bit-identical parameters, whatever the scheduling; with one partition
 * the result equals the single-JVM {@link org.sparseft.train.Trainer}'s bit for bit.
 */
public final class DataParallelTrainer {
    public enum Sync { GRAD, AVERAGE, SHARDED }

    /**
     * @param microBatch sequences per forward/backward pass within a partition's share (0: the whole share)
     * @param every steps per averaging round ({@link Sync#AVERAGE} only)
     * @param checkpointEvery steps between checkpoints (0: only at the end)
     */
    public record Options(int steps, int batch, int microBatch, Sync sync, int every, LearningRateSchedule schedule,
                          AdamW.Options adam, double maxGradNorm, long seed, int checkpointEvery) {
        public Options {
            if (steps < 1 || batch < 1 || microBatch < 0 || every < 1 || checkpointEvery < 0) {
                throw new InvalidSettingException("{steps}, {batch} and {every} must be at least 1, {micro-batch} and"
                        + " {checkpoint-every} at least 0");
            }
        }

        /** Sequences per partition per step; the batch must split evenly (checked before any work). */
        public int share(int partitions) {
            if (batch % partitions != 0) {
                throw new InvalidSettingException("{batch} " + batch + " is not a multiple of {partitions} " + partitions
                        + ": every partition takes an equal share of each step's sequences");
            }
            int share = batch / partitions;
            if (microBatch > 0 && share % microBatch != 0) {
                throw new InvalidSettingException("{micro-batch} " + microBatch + " does not divide the " + share
                        + " sequences each partition takes per step ({batch} " + batch + " / " + partitions
                        + " partitions)");
            }
            return share;
        }
    }

    /**
     * One step (or, when averaging, one round ending at {@code step}); {@code figures} are the objective's own
     * (AST's mask flip rates), often none.
     */
    public record StepReport(int step, int steps, int stepsInReport, double loss, double gradNorm,
                             double learningRate, double seconds, long tokens, long bytesBroadcast,
                             long bytesCollected, long bytesExchanged, Map<String, Double> figures) {
        public double tokensPerSecond() {
            return tokens / seconds;
        }
    }

    /**
     * Progress as training goes. {@code current} gives the trained values after the step; under
     * {@link Sync#SHARDED} asking for them gathers them from the executors, so ask only when needed.
     */
    public interface Listener {
        void onStep(StepReport report, Supplier<Parameters> current) throws IOException;

        default void onCheckpoint(int step, String path) {
        }
    }

    public record Summary(int firstStep, int steps, double finalLoss, double seconds, long tokens) {
    }

    private DataParallelTrainer() {
    }

    /**
     * Trains {@code params} in place from {@code run.startStep()} to {@code o.steps()}, checkpointing into the run
     * directory every {@code checkpointEvery} steps and at the end.
     *
     * @throws RuntimeFailure on a non-finite loss or gradient, naming the step and the last good checkpoint
     */
    public static Summary run(JavaSparkContext jsc, TrainingShards data, Parameters params, Options o,
                              TrainingRun run, Listener listener) throws IOException {
        return run(jsc, data, params, Objective.DENSE, o, run, listener);
    }

    /**
     * As {@link #run(JavaSparkContext, TrainingShards, Parameters, Options, TrainingRun, Listener)} for any
     * {@link Objective}: {@code params} are the trained tensors (the model's, or a sparse method's).
     */
    public static Summary run(JavaSparkContext jsc, TrainingShards data, Parameters params, Objective objective,
                              Options o, TrainingRun run, Listener listener) throws IOException {
        return run(jsc, data, params, AdaptiveObjective.fixed(objective), o, run, listener);
    }

    /**
     * As {@link #run(JavaSparkContext, TrainingShards, Parameters, Objective, Options, TrainingRun, Listener)} for an
     * objective whose state changes between steps: each step (or averaging round) runs its current objective, the
     * state is updated after it, its figures go into the step's metrics line, and it is saved in every checkpoint.
     */
    public static Summary run(JavaSparkContext jsc, TrainingShards data, Parameters params,
                              AdaptiveObjective adaptive, Options o, TrainingRun run, Listener listener)
            throws IOException {
        int share = o.share(data.partitions());
        checkResultSize(jsc, params.spec(), data.partitions(), o.sync());
        int micro = o.microBatch() == 0 ? share : o.microBatch();
        int seqLen = data.seqLen();
        String runId = UUID.randomUUID().toString();
        AdamW optimizer = run.optimizer();
        int step = run.startStep();
        long started = System.nanoTime();
        double loss = Double.NaN;
        ShardedSync sharded = o.sync() == Sync.SHARDED && step < o.steps() ? new ShardedSync(jsc, data, params,
                optimizer, o, share, micro, run.directory(), step) : null;
        try {
            while (step < o.steps()) {
                long t0 = System.nanoTime();
                int from = step;
                StepOutcome outcome;
                Objective objective = adaptive.current();
                if (o.sync() == Sync.GRAD) {
                    outcome = gradientStep(jsc, data, params, objective, optimizer, o, runId, step, share, micro,
                            run);
                    step++;
                } else if (sharded != null) {
                    ShardedSync.StepResult r = sharded.step(step, objective);
                    if (r.failure() != null) {
                        throw stopped(r.failure(), run);
                    }
                    outcome = new StepOutcome(r.loss(), r.gradNorm(), 0, r.bytesCollected(), r.bytesExchanged(),
                            optimizer);
                    step++;
                } else {
                    int h = Math.min(o.every(), o.steps() - step);
                    outcome = averagingRound(jsc, data, params, objective, optimizer, o, step, h, share, micro, run);
                    optimizer = outcome.optimizer();
                    step += h;
                }
                loss = outcome.loss();
                TrainedValues values = sharded == null ? TrainedValues.local(params) : sharded.values(params);
                Map<String, Double> figures = adaptive.afterSteps(values, from, step);
                boolean checkpointDue = o.checkpointEvery() > 0
                        && step / o.checkpointEvery() > from / o.checkpointEvery();
                if (sharded != null && (checkpointDue || step == o.steps())) {
                    optimizer = sharded.gather(params, optimizer, o.adam());
                }
                long gathered = sharded == null ? 0 : sharded.takeBytesGathered();
                double seconds = (System.nanoTime() - t0) / 1e9;
                StepReport report = new StepReport(step, o.steps(), step - from, outcome.loss(), outcome.gradNorm(),
                        o.schedule().at(step - 1), seconds, (long) (step - from) * o.batch() * seqLen,
                        outcome.bytesBroadcast(), outcome.bytesCollected() + gathered, outcome.bytesExchanged(),
                        figures);
                run.metrics().write(MetricsLine.training(step, report.loss(), report.learningRate(),
                        report.gradNorm(), seconds, report.tokensPerSecond(), report.bytesBroadcast(),
                        report.bytesCollected(), sharded == null ? null : report.bytesExchanged(), report.figures()));
                if (checkpointDue || step == o.steps()) {
                    listener.onCheckpoint(step, run.checkpoint(step, params, optimizer, adaptive.checkpointed()));
                }
                listener.onStep(report, values::all);
            }
        } finally {
            if (sharded != null) {
                sharded.close();
            }
        }
        return new Summary(run.startStep(), o.steps(), loss, (System.nanoTime() - started) / 1e9,
                (long) (o.steps() - run.startStep()) * o.batch() * seqLen);
    }

    private record StepOutcome(double loss, double gradNorm, long bytesBroadcast, long bytesCollected,
                               long bytesExchanged, AdamW optimizer) {
    }

    private static StepOutcome gradientStep(JavaSparkContext jsc, TrainingShards data, Parameters params,
                                            Objective objective, AdamW optimizer, Options o, String runId, int step, int share, int micro,
                                            TrainingRun run) throws IOException {
        float[] values = params.toFlat();
        Broadcast<float[]> bc = jsc.broadcast(values);
        INDArray sum = Workspaces.outside(() -> Nd4j.zeros(DataType.FLOAT, values.length));
        double[] loss = {0};
        long[] collected = {0};
        PartialGradient[] firstNonFinite = {null};
        try {
            OrderedJobs.run(data.rdd(), new GradientTask(runId, step, params.spec(), objective, bc, o.seed(), share,
                    micro),
                    (PartialGradient g) -> {
                        double w = (double) g.sequences() / o.batch();
                        Workspaces.outside(() -> sum.addi(Nd4j.createFromArray(g.gradient()).muli(w)));
                        loss[0] += w * g.loss();
                        collected[0] += 4L * g.gradient().length;
                        if (firstNonFinite[0] == null && !g.finite()) {
                            firstNonFinite[0] = g;
                        }
                    });
        } finally {
            bc.unpersist(true); // blocking: an async destroy races Spark's ContextCleaner (spurious errors)
        }
        if (firstNonFinite[0] != null) {
            // one shard's data (or one executor) went wrong: say which, so it can be found
            PartialGradient g = firstNonFinite[0];
            throw stopped("step " + (step + 1) + ": non-finite " + (Double.isFinite(g.loss()) ? "gradient" : "loss")
                    + " in partition " + g.partition() + " of " + data.partitions() + " (loss " + g.loss()
                    + ", gradient norm " + g.gradNorm() + ")", run);
        }
        Parameters grads = Workspaces.outside(() -> Parameters.fromFlat(params.spec(), sum.data().asFloat()));
        try {
            TrainStep.Result r = TrainStep.update(params, grads, loss[0], optimizer, o.schedule(), step,
                    o.maxGradNorm(), objective);
            return new StepOutcome(r.loss(), r.gradNorm(), 4L * values.length, collected[0], 0, optimizer);
        } catch (RuntimeFailure e) {
            throw stopped(e.getMessage(), run);
        }
    }

    private static StepOutcome averagingRound(JavaSparkContext jsc, TrainingShards data, Parameters params,
                                              Objective objective, AdamW optimizer, Options o, int firstStep, int steps, int share,
                                              int micro, TrainingRun run) throws IOException {
        float[][] state = {params.toFlat(), optimizer.firstMoment().toFlat(), optimizer.secondMoment().toFlat()};
        Broadcast<float[][]> bc = jsc.broadcast(state);
        int n = state[0].length;
        INDArray[] sums = Workspaces.outside(() -> new INDArray[] {Nd4j.zeros(DataType.FLOAT, n),
                Nd4j.zeros(DataType.FLOAT, n), Nd4j.zeros(DataType.FLOAT, n)});
        double[] lossAndNorm = {0, 0};
        long[] collected = {0};
        String[] failure = {null};
        try {
            OrderedJobs.run(data.rdd(), new LocalStepsTask(firstStep, steps, params.spec(), objective, bc,
                    optimizer.steps(),
                    o.adam(), o.schedule(), o.maxGradNorm(), o.seed(), share, micro), (PartialState s) -> {
                double w = (double) s.sequences() / o.batch();
                Workspaces.outside(() -> {
                    sums[0].addi(Nd4j.createFromArray(s.parameters()).muli(w));
                    sums[1].addi(Nd4j.createFromArray(s.firstMoment()).muli(w));
                    return sums[2].addi(Nd4j.createFromArray(s.secondMoment()).muli(w));
                });
                lossAndNorm[0] += w * s.loss();
                lossAndNorm[1] += w * s.gradNorm();
                collected[0] += 4L * (s.parameters().length + s.firstMoment().length + s.secondMoment().length);
                if (failure[0] == null && s.failure() != null) {
                    failure[0] = s.failure() + " in partition " + s.partition() + " of " + data.partitions();
                }
            });
        } finally {
            bc.unpersist(true); // blocking: an async destroy races Spark's ContextCleaner (spurious errors)
        }
        if (failure[0] != null || !Double.isFinite(lossAndNorm[0])) {
            throw stopped(failure[0] != null ? failure[0] : "steps " + (firstStep + 1) + "-" + (firstStep + steps)
                    + ": non-finite averaged loss " + lossAndNorm[0], run);
        }
        params.assign(sums[0].data().asFloat());
        optimizer.firstMoment().assign(sums[1].data().asFloat());
        optimizer.secondMoment().assign(sums[2].data().asFloat());
        AdamW next = new AdamW(o.adam(), optimizer.firstMoment(), optimizer.secondMoment(), optimizer.steps() + steps);
        return new StepOutcome(lossAndNorm[0], lossAndNorm[1], 12L * n, collected[0], 0, next);
    }

    private static RuntimeFailure stopped(String why, TrainingRun run) throws IOException {
        return RuntimeFailure.advising(InvalidSettingException.literal(why + "; training stopped, the last good"
                + " checkpoint is " + run.lastCheckpoint()) + ". Training is deterministic, so resuming with the same"
                + " settings would fail the same way: start a new run with a lower {lr} or a tighter {clip}", null);
    }

    /**
     * Everything {@link #run} refuses about its settings, for a job to check before it writes anything: an uneven
     * split of the batch, a result too large for Spark, a driver or executors too small for one exchange, and
     * (sharded) more partitions than trained tensors.
     */
    public static void checkSettings(JavaSparkContext jsc, Parameters.Spec trained, int partitions, Options o) {
        o.share(partitions);
        checkResultSize(jsc, trained, partitions, o.sync());
        long parameters = ParameterChunks.of(trained, 1).total();
        checkHeaps(jsc.sc().isLocal(), jsc.getConf(), Runtime.getRuntime().maxMemory(), parameters,
                o.sync() == Sync.SHARDED ? ParameterChunks.of(trained, partitions).largest() : parameters, o.sync());
    }

    /** Spark's reserved heap, which its memory manager never hands out. */
    private static final long SPARK_RESERVED_HEAP = 300L << 20;

    /**
     * Refuses, before any work, a driver or (on a cluster) executors whose heap cannot hold what one exchange of
     * {@code sync} must hold at once: under {@code grad} the parameters broadcast, one gradient and its serialized
     * copy (12 bytes per trained parameter), under {@code average} the parameters and moments broadcast, one
     * returned set and its serialized copy (36); under {@code sharded} an executor's chunk state (parameters and
     * moments, 12 bytes per value), the state replacing it and its summed gradient (32 in all, per value of the
     * chunk), while the driver moves pieces of at most 64 MB. An executor needs that per concurrent task
     * ({@code spark.executor.cores / spark.task.cpus}, 1 when unset). These are lower bounds, measured at 124M
     * parameters on one executor: averaging failed with "Java heap space" in a 4 GB driver and a 4 GB executor,
     * sharded in a 4 GB executor (docs/scaling.md). In local mode the executors are the driver, which then holds
     * every chunk.
     *
     * @param driverHeap the driver JVM's maximum heap
     * @param largestChunk the values of the largest chunk under {@code sharded}
     */
    static void checkHeaps(boolean local, org.apache.spark.SparkConf conf, long driverHeap, long parameters,
                           long largestChunk, Sync sync) {
        long perExchange = switch (sync) {
            case GRAD -> 12L * parameters;
            case AVERAGE -> 36L * parameters;
            case SHARDED -> 32L * largestChunk;
        };
        long driverNeeds = sync == Sync.SHARDED ? (local ? 32L * parameters : 0) : perExchange;
        String alternative = switch (sync) {
            case GRAD -> ", or use {sync} sharded";
            case AVERAGE -> ", or use {sync} grad or sharded";
            case SHARDED -> ", or use more {partitions}";
        };
        if (driverNeeds > driverHeap - SPARK_RESERVED_HEAP) {
            throw new InvalidSettingException(String.format(java.util.Locale.ROOT, "the driver holds at least %.2f GiB"
                            + " on its heap at each exchange (%,d trained parameters x %d bytes under {sync} %s), more"
                            + " than its %.2f GiB heap less Spark's reserved 300 MiB: raise the driver's memory"
                            + " (SPARSEFT_DRIVER_MEMORY for deploy/bin/sparseft and sparseft-submit, --driver-memory"
                            + " for spark-submit)%s", gib(driverNeeds), parameters, driverNeeds / parameters,
                    name(sync), gib(driverHeap), alternative));
        }
        if (local) {
            return;
        }
        int cores = conf.getInt("spark.executor.cores", 1);
        int tasks = Math.max(1, cores / Math.max(1, conf.getInt("spark.task.cpus", 1)));
        long heap = conf.getSizeAsBytes("spark.executor.memory", "1g");
        if ((long) tasks * perExchange > heap - SPARK_RESERVED_HEAP) {
            long values = sync == Sync.SHARDED ? largestChunk : parameters;
            throw new InvalidSettingException(String.format(java.util.Locale.ROOT, "each training task holds at least"
                            + " %.2f GiB on its executor's heap (%,d %s x %d bytes under {sync} %s) and %d run at once"
                            + " per executor, more than spark.executor.memory %.2f GiB less Spark's reserved 300 MiB:"
                            + " raise spark.executor.memory%s", gib(perExchange), values,
                    sync == Sync.SHARDED ? "values in the largest chunk" : "trained parameters",
                    perExchange / values, name(sync), tasks, gib(heap), alternative));
        }
    }

    private static double gib(long bytes) {
        return bytes / (double) (1L << 30);
    }

    private static String name(Sync sync) {
        return sync.name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * Refuses, before any work, a model whose per-task result cannot pass through Spark as a single Kryo-serialized
     * result: a gradient (4 bytes per parameter), or parameters and both moments (12) when averaging, or, sharded, a
     * chunk's parameters and moments when they are gathered for a checkpoint.
     */
    public static void checkResultSize(JavaSparkContext jsc, Parameters.Spec trained, int partitions, Sync sync) {
        long parameters = ParameterChunks.of(trained, 1).total();
        String what = "trainable parameters";
        if (sync == Sync.SHARDED) {
            parameters = ParameterChunks.of(trained, partitions).largest();
            what = "parameters in the largest of " + partitions + " chunks";
        }
        long bytes = parameters * (sync == Sync.GRAD ? 4L : 12L);
        long limit = jsc.getConf().getSizeAsBytes("spark.kryoserializer.buffer.max", "64m");
        if (bytes + (1 << 20) > limit) {
            throw new InvalidSettingException(String.format("each task returns %,d bytes (%,d %s, {sync} %s), more"
                    + " than spark.kryoserializer.buffer.max (%,d bytes; at most 2047m)", bytes, parameters, what,
                    sync.name().toLowerCase(java.util.Locale.ROOT), limit));
        }
    }
}
