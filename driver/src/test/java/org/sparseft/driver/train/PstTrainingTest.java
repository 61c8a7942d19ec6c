package org.sparseft.driver.train;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.driver.exec.ExecutorModels;
import org.sparseft.driver.SparkSessions;
import org.sparseft.io.HadoopStorage;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.Parameters;
import org.sparseft.pst.PstModel;
import org.sparseft.pst.PstObjective;
import org.sparseft.pst.PstOptions;
import org.sparseft.sparsity.SparsityPattern;
import org.sparseft.train.AdamW;
import org.sparseft.train.LearningRateSchedule;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** PST through the data-parallel trainer on real local Spark: only the small tensors train and travel. */
class PstTrainingTest {
    private static final LlamaConfig TINY = FrozenModels.TINY;

    @TempDir
    Path tmp;

    private record Outcome(float[] trained, List<Double> losses) {
    }

    private static Outcome train(String master, String modelDir, String hash, Parameters base, Path runDir) {
        return train(master, modelDir, hash, base, runDir, false, -1, DataParallelTrainer.Sync.GRAD);
    }

    private static Outcome train(String master, String modelDir, String hash, Parameters base, Path runDir,
                                 boolean resume, int crashAfter) {
        return train(master, modelDir, hash, base, runDir, resume, crashAfter, DataParallelTrainer.Sync.GRAD);
    }

    /** Trains 12 PST steps (checkpoints every 4); {@code crashAfter} > 0 throws after that step. */
    private static Outcome train(String master, String modelDir, String hash, Parameters base, Path runDir,
                                 boolean resume, int crashAfter, DataParallelTrainer.Sync sync) {
        SparkSession spark = SparkSessions.create("sparseft-test", master, Map.of());
        try {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            TrainingShards shards = TrainingShards.of(jsc.parallelize(FrozenModels.blocks(), 3), 4);
            int steps = 12;
            PstOptions pst = PstOptions.defaults(new SparsityPattern.Unstructured(0.5));
            Parameters trained = PstModel.initialize(base, pst, 5);
            PstObjective objective = new PstObjective(() -> ExecutorModels.get(modelDir, hash), pst, steps);
            AdamW.Options adam = new AdamW.Options(0.9, 0.999, 1e-8, 0);
            DataParallelTrainer.Options o = new DataParallelTrainer.Options(steps, 8, 0,
                    sync, 1, new LearningRateSchedule(1e-2, 0, steps,
                    LearningRateSchedule.Decay.LINEAR, 0), adam, 1.0, 3, 4);
            List<Double> losses = new ArrayList<>();
            try (TrainingRun run = TrainingRun.open(HadoopStorage.withDefaults(), runDir.toString(), 2, resume, true,
                    Map.of(), trained, adam)) {
                DataParallelTrainer.run(jsc, shards, trained, objective, o, run, (r, p) -> {
                    losses.add(r.loss());
                    if (r.step() == crashAfter) {
                        throw new IllegalStateException("simulated crash after step " + crashAfter);
                    }
                });
            } finally {
                shards.unpersist();
            }
            return new Outcome(trained.toFlat(), losses);
        } catch (java.io.IOException e) {
            throw new RuntimeException(e);
        } finally {
            spark.stop();
        }
    }

    private FrozenModels.Base writeBase(long seed) throws java.io.IOException {
        return FrozenModels.write(tmp.resolve("base-" + seed), seed);
    }

    @Test
    void onlyThePstTensorsTrainAndTheResultDoesNotDependOnScheduling() throws Exception {
        FrozenModels.Base b = writeBase(2);
        String dir = b.dir();
        String hash = b.hash();
        Parameters base = b.parameters();
        float[] frozen = ExecutorModels.get(dir, hash).parameters().toFlat();
        Outcome serial = train("local[1]", dir, hash, base, tmp.resolve("run1"));
        Outcome parallel = train("local[4]", dir, hash, base, tmp.resolve("run4"));
        assertArrayEquals(serial.trained(), parallel.trained(), 0f, "local[1] and local[4]: the same U, V, A, B, R, C");
        assertArrayEquals(frozen, ExecutorModels.get(dir, hash).parameters().toFlat(), 0f, "W never changes");
        assertEquals(12, serial.losses().size());
        double first = serial.losses().get(0);
        double last = serial.losses().get(11);
        assertTrue(last < first, "PST lowers the loss: " + serial.losses());
    }

    @Test
    void aResumedRunEndsWithTheUninterruptedRunsTensors() throws Exception {
        FrozenModels.Base b = writeBase(4);
        String dir = b.dir();
        String hash = b.hash();
        Parameters base = b.parameters();
        Outcome uninterrupted = train("local[2]", dir, hash, base, tmp.resolve("whole"));
        Path broken = tmp.resolve("broken");
        RuntimeException crash = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class,
                () -> train("local[2]", dir, hash, base, broken, false, 6));
        assertTrue(crash.getMessage().contains("simulated crash"), crash.toString());
        Outcome resumed = train("local[2]", dir, hash, base, broken, true, -1);
        assertEquals(8, resumed.losses().size(), "resumed from the step-4 checkpoint: steps 5-12");
        assertArrayEquals(uninterrupted.trained(), resumed.trained(), 0f, "resumed vs uninterrupted");
        Path shardedBroken = tmp.resolve("sharded-broken");
        org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, () -> train("local[2]", dir, hash, base,
                shardedBroken, false, 6, DataParallelTrainer.Sync.SHARDED));
        Outcome sharded = train("local[2]", dir, hash, base, shardedBroken, true, -1, DataParallelTrainer.Sync.SHARDED);
        assertArrayEquals(uninterrupted.trained(), sharded.trained(), 0f,
                "sharded sync, crashed and resumed, vs gradient sync uninterrupted");
        assertEquals(uninterrupted.losses().subList(4, 12), sharded.losses(), "the same losses, steps 5-12");
    }
}
