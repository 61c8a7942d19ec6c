package org.sparseft.jobs.bench;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.driver.train.TrainingRun;
import org.sparseft.driver.train.TrainingShards;
import org.sparseft.io.HadoopStorage;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.train.AdamW;
import org.sparseft.train.LearningRateSchedule;
import org.sparseft.train.ShardOrder;
import org.sparseft.train.TrainStep;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * What Spark costs a training step: the same dense step timed in a plain loop in one JVM and through
 * {@link DataParallelTrainer} in local mode, with the bytes each synchronised step moves.
 */
public final class SparkTrainingBenchmark {
    /** Median seconds per optimizer step after warm-up, and the payload bytes of one step (or round). */
    public record Row(String setup, double secondsPerStep, double tokensPerSecond, long bytesPerStep) {
    }

    private SparkTrainingBenchmark() {
    }

    /** Seeded random blocks: timing does not depend on the text. */
    public static List<int[]> blocks(ModelConfig cfg, int count, int seqLen) {
        Random r = new Random(1);
        List<int[]> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int[] b = new int[seqLen];
            for (int j = 0; j < seqLen; j++) {
                b[j] = r.nextInt(cfg.vocabSize());
            }
            out.add(b);
        }
        return out;
    }

    private static LearningRateSchedule schedule(int steps) {
        return new LearningRateSchedule(1e-3, 0, steps, LearningRateSchedule.Decay.CONSTANT, 1);
    }

    private static final AdamW.Options ADAM = new AdamW.Options(0.9, 0.95, 1e-8, 0.1);

    /** The step in a plain loop on a fresh thread (as Spark's tasks run): no Spark, no copies. */
    public static Row plainLoopOnThread(ModelConfig cfg, List<int[]> blocks, int batch, int warmup, int steps) {
        Row[] out = new Row[1];
        Thread t = new Thread(() -> out[0] = plainLoop(cfg, blocks, batch, warmup, steps), "plain-loop");
        t.start();
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        return new Row("plain loop in one JVM (no Spark), on a fresh thread", out[0].secondsPerStep(),
                out[0].tokensPerSecond(), 0);
    }

    /** The step in a plain loop: no Spark, no copies of parameters or gradients. */
    public static Row plainLoop(ModelConfig cfg, List<int[]> blocks, int batch, int warmup, int steps) {
        DecoderModel model = DecoderModel.of(Parameters.initialize(cfg, 0, DataType.FLOAT));
        AdamW opt = new AdamW(model.parameters(), ADAM);
        int seqLen = blocks.get(0).length;
        ShardOrder order = new ShardOrder(blocks.size(), 0, 0);
        List<Double> times = new ArrayList<>();
        for (int s = 0; s < warmup + steps; s++) {
            int[] tokens = new int[batch * seqLen];
            int[] picked = order.take((long) s * batch, batch);
            for (int b = 0; b < batch; b++) {
                System.arraycopy(blocks.get(picked[b]), 0, tokens, b * seqLen, seqLen);
            }
            long t0 = System.nanoTime();
            TrainStep.run(model, opt, schedule(warmup + steps), s, List.of(tokens), batch, seqLen, 1.0);
            if (s >= warmup) {
                times.add((System.nanoTime() - t0) / 1e9);
            }
        }
        double median = median(times);
        return new Row("plain loop in one JVM (no Spark), on the main thread", median, batch * seqLen / median, 0);
    }

    /**
     * The step through Spark on {@code master} with {@code partitions} partitions.
     *
     * @param blasThreads BLAS and libnd4j threads per JVM for the run (0: leave as configured)
     */
    public static Row spark(String label, String master, int partitions, DataParallelTrainer.Sync sync, int every,
                            int blasThreads, ModelConfig cfg, List<int[]> blocks, int batch, int warmup, int steps)
            throws IOException {
        int before = Nd4j.getEnvironment().maxThreads();
        int beforeBlas = Nd4j.factory().blas().getMaxThreads();
        if (blasThreads > 0) {
            Nd4j.getEnvironment().setMaxThreads(blasThreads);
            Nd4j.factory().blas().setMaxThreads(blasThreads);
        }
        Path runDir = Files.createTempDirectory("sparseft-bench-run");
        SparkSession spark = SparkSessions.create("sparseft bench spark", master, Map.of());
        try {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            TrainingShards shards = TrainingShards.of(jsc.parallelize(blocks, partitions), partitions);
            Parameters params = Parameters.initialize(cfg, 0, DataType.FLOAT);
            int total = warmup + steps;
            DataParallelTrainer.Options o = new DataParallelTrainer.Options(total, batch, 0, sync, every,
                    schedule(total), ADAM, 1.0, 0, 0);
            List<Double> times = new ArrayList<>();
            long[] bytes = {0};
            try (TrainingRun run = TrainingRun.open(HadoopStorage.withDefaults(), runDir.toUri().toString(), 1, false,
                    true, Map.of(), params, ADAM)) {
                DataParallelTrainer.run(jsc, shards, params, o, run, (r, p) -> {
                    if (r.step() - r.stepsInReport() >= warmup) {
                        times.add(r.seconds() / r.stepsInReport());
                        bytes[0] = r.bytesBroadcast() + r.bytesCollected();
                    }
                });
            } finally {
                shards.unpersist();
            }
            double median = median(times);
            return new Row(label, median, batch * blocks.get(0).length / median, bytes[0]);
        } finally {
            spark.stop();
            Nd4j.getEnvironment().setMaxThreads(before);
            Nd4j.factory().blas().setMaxThreads(beforeBlas);
            HadoopStorage.withDefaults().delete(runDir.toUri().toString());
        }
    }

    private static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        return s.get(s.size() / 2);
    }
}
