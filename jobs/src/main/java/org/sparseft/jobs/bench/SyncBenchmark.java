package org.sparseft.jobs.bench;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.ast.AstOptions;
import org.sparseft.ast.AstTraining;
import org.sparseft.ast.Distillation;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.exec.ExecutorModels;
import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.driver.train.TrainingRun;
import org.sparseft.driver.train.TrainingShards;
import org.sparseft.io.HadoopStorage;
import org.sparseft.model.Parameters;
import org.sparseft.sparsity.SparsityPattern;
import org.sparseft.train.AdamW;
import org.sparseft.train.LearningRateSchedule;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What synchronisation costs an AST step: the same run through {@link DataParallelTrainer} with the driver summing
 * gradients ({@link DataParallelTrainer.Sync#GRAD}) and with the sums and updates on the executors
 * ({@link DataParallelTrainer.Sync#SHARDED}), at several partition counts in local mode. Bytes are measured by a
 * Spark listener: task results the driver received and shuffle bytes the executors wrote, per step.
 */
public final class SyncBenchmark {
    /**
     * One row: median seconds per step over the timed steps; the trainer's payload sent from the driver; the bytes
     * of task results the driver received and of shuffle output the executors wrote, per timed step.
     */
    public record Row(DataParallelTrainer.Sync sync, int partitions, double secondsPerStep, long driverSent,
                      long driverReceived, long shuffleWritten) {
    }

    private SyncBenchmark() {
    }

    /** Counts what tasks send to the driver and to each other. */
    private static final class Bytes extends SparkListener {
        final AtomicLong results = new AtomicLong();
        final AtomicLong shuffle = new AtomicLong();

        @Override
        public void onTaskEnd(SparkListenerTaskEnd end) {
            TaskMetrics m = end.taskMetrics();
            if (m != null) {
                results.addAndGet(m.resultSize());
                shuffle.addAndGet(m.shuffleWriteMetrics().bytesWritten());
            }
        }
    }

    /**
     * AST 2:4 (distillation from the dense teacher, decay of pruned weights, masks re-selected every 10 steps) of
     * the model at {@code modelDir} on random tokens, {@code warmup + steps} steps of {@code batch} sequences; at least 2 timed steps.
     */
    public static Row run(String modelDir, DataParallelTrainer.Sync sync, int partitions, int cores, int batch,
                          int seqLen, int warmup, int steps) throws IOException {
        Path runDir = Files.createTempDirectory("sparseft-bench-sync");
        SparkSession spark = SparkSessions.create("sparseft bench sync", "local[" + cores + "]", Map.of());
        Bytes bytes = new Bytes();
        try {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            jsc.sc().addSparkListener(bytes);
            String hash = "bench-sync:" + modelDir;
            Parameters model = ExecutorModels.get(modelDir, hash).parameters();
            List<int[]> blocks = SparkTrainingBenchmark.blocks(model.config(), 4 * batch, seqLen);
            TrainingShards shards = TrainingShards.of(jsc.parallelize(blocks, partitions), partitions);
            int total = warmup + steps;
            AstOptions options = new AstOptions(new SparsityPattern.NOutOfM(2, 4), 10, 6e-5, 0.25,
                    Distillation.GPT2, 0);
            AstTraining.Start start = AstTraining.start(model.castTo(DataType.FLOAT), options, total,
                    () -> ExecutorModels.get(modelDir, hash));
            AdamW.Options adam = new AdamW.Options(0.9, 0.95, 1e-8, 0.1);
            DataParallelTrainer.Options o = new DataParallelTrainer.Options(total, batch, 0, sync, 1,
                    new LearningRateSchedule(2e-4, 0, total, LearningRateSchedule.Decay.CONSTANT, 1), adam, 1.0, 0,
                    0);
            List<Double> times = new ArrayList<>();
            long[] sent = {0};
            long[][] at = new long[2][]; // results and shuffle bytes after the warm-up and before the last step
            try (TrainingRun run = TrainingRun.open(HadoopStorage.withDefaults(), runDir.toUri().toString(), 1, false,
                    true, Map.of(), start.trained(), adam, start.training())) {
                DataParallelTrainer.run(jsc, shards, start.trained(), start.training(), o, run, (r, p) -> {
                    // the last step is not timed: its final checkpoint gathers everything under sharded sync
                    if (r.step() > warmup && r.step() < total) {
                        times.add(r.seconds());
                        sent[0] += r.bytesBroadcast();
                    }
                    if (r.step() == warmup || r.step() == total - 1) {
                        try { // every task of the steps so far counted
                            jsc.sc().listenerBus().waitUntilEmpty();
                        } catch (java.util.concurrent.TimeoutException e) {
                            throw new IllegalStateException("Spark's listener bus did not drain", e);
                        }
                        at[r.step() == warmup ? 0 : 1] = new long[] {bytes.results.get(), bytes.shuffle.get()};
                    }
                });
            } finally {
                shards.unpersist();
            }
            int counted = times.size();
            Collections.sort(times);
            return new Row(sync, partitions, times.get(times.size() / 2), sent[0] / counted,
                    (at[1][0] - at[0][0]) / counted, (at[1][1] - at[0][1]) / counted);
        } finally {
            spark.stop();
            HadoopStorage.withDefaults().delete(runDir.toUri().toString());
        }
    }
}
