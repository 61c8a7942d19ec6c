package org.sparseft.driver.train;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.ast.AstOptions;
import org.sparseft.ast.AstTraining;
import org.sparseft.ast.Distillation;
import org.sparseft.driver.exec.ExecutorModels;
import org.sparseft.driver.SparkSessions;
import org.sparseft.io.HadoopStorage;
import org.sparseft.model.LlamaConfig;
import org.sparseft.sparsity.SparsityPattern;
import org.sparseft.train.AdamW;
import org.sparseft.train.LearningRateSchedule;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * AST through the data-parallel trainer on real local Spark: the teacher on the executors, masks re-selected on the
 * driver every 3 steps and checkpointed (every 4, so a resume lands between re-selections), SLoRB trained.
 */
class AstTrainingTest {
    private static final LlamaConfig TINY = FrozenModels.TINY;
    private static final int STEPS = 12;

    @TempDir
    Path tmp;

    private record Outcome(float[] trained, byte[] lastMask, List<Double> losses, List<Map<String, Double>> figures) {
    }

    private FrozenModels.Base writeBase(long seed) throws java.io.IOException {
        return FrozenModels.write(tmp.resolve("base-" + seed), seed);
    }

    /** {@code crashAfter} > 0 throws after that step. */
    private static Outcome train(String master, FrozenModels.Base b, Path runDir, DataParallelTrainer.Sync sync,
                                 boolean resume, int crashAfter) {
        SparkSession spark = SparkSessions.create("sparseft-test", master, Map.of());
        try {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            TrainingShards shards = TrainingShards.of(jsc.parallelize(FrozenModels.blocks(), 3), 4);
            AstOptions options = new AstOptions(new SparsityPattern.NOutOfM(2, 4), 3, 0.05, 0.25,
                    Distillation.GPT2, 4);
            String dir = b.dir();
            String hash = b.hash();
            AstTraining.Start start = AstTraining.start(b.parameters().castTo(DataType.FLOAT), options, STEPS,
                    () -> ExecutorModels.get(dir, hash));
            AdamW.Options adam = new AdamW.Options(0.9, 0.95, 1e-8, 0.1);
            DataParallelTrainer.Options o = new DataParallelTrainer.Options(STEPS, 8, 0, sync, 2,
                    new LearningRateSchedule(1e-2, 0, STEPS, LearningRateSchedule.Decay.COSINE, 0.1), adam, 1.0, 3,
                    4);
            List<Double> losses = new ArrayList<>();
            List<Map<String, Double>> figures = new ArrayList<>();
            try (TrainingRun run = TrainingRun.open(HadoopStorage.withDefaults(), runDir.toString(), 2, resume, true,
                    Map.of(), start.trained(), adam, start.training())) {
                DataParallelTrainer.run(jsc, shards, start.trained(), start.training(), o, run, (r, p) -> {
                    losses.add(r.loss());
                    figures.add(r.figures());
                    if (r.step() == crashAfter) {
                        throw new IllegalStateException("simulated crash after step " + crashAfter);
                    }
                });
            } finally {
                shards.unpersist();
            }
            String w = TINY.prunableWeights().get(0);
            return new Outcome(start.trained().toFlat(), start.training().masks().bytes(w), losses, figures);
        } catch (java.io.IOException e) {
            throw new RuntimeException(e);
        } finally {
            spark.stop();
        }
    }

    @Test
    void theResultDoesNotDependOnSchedulingAndMasksAreReselectedEveryThreeSteps() throws Exception {
        FrozenModels.Base b = writeBase(2);
        Outcome serial = train("local[1]", b, tmp.resolve("run1"), DataParallelTrainer.Sync.GRAD, false, -1);
        Outcome parallel = train("local[4]", b, tmp.resolve("run4"), DataParallelTrainer.Sync.GRAD, false, -1);
        assertArrayEquals(serial.trained(), parallel.trained(), 0f, "local[1] and local[4]: the same weights");
        assertArrayEquals(serial.lastMask(), parallel.lastMask());
        assertEquals(STEPS, serial.losses().size());
        assertTrue(serial.losses().get(STEPS - 1) < serial.losses().get(0), "AST lowers the loss: "
                + serial.losses());
        for (int i = 0; i < STEPS; i++) {
            assertEquals((i + 1) % 3 == 0, serial.figures().get(i).containsKey("mask_flip_rate"),
                    "flip rate logged at re-selections only, step " + (i + 1));
        }
        assertTrue(Files.readString(tmp.resolve("run1").resolve("metrics.jsonl")).contains("mask_flip_rate_initial"));
        assertTrue(Files.exists(tmp.resolve("run1").resolve("checkpoints").resolve("step-0000012")
                .resolve("method.safetensors")), "the masks are checkpointed");
    }

    @Test
    void aResumedRunEndsWithTheUninterruptedRunsWeightsAndMasks() throws Exception {
        FrozenModels.Base b = writeBase(4);
        Map<DataParallelTrainer.Sync, Outcome> wholeRuns = new java.util.EnumMap<>(DataParallelTrainer.Sync.class);
        for (DataParallelTrainer.Sync sync : DataParallelTrainer.Sync.values()) {
            Outcome whole = train("local[2]", b, tmp.resolve("whole-" + sync), sync, false, -1);
            wholeRuns.put(sync, whole);
            Path broken = tmp.resolve("broken-" + sync);
            RuntimeException crash = assertThrows(RuntimeException.class,
                    () -> train("local[2]", b, broken, sync, false, 6));
            assertTrue(crash.getMessage().contains("simulated crash"), crash.toString());
            Outcome resumed = train("local[2]", b, broken, sync, true, -1);
            assertEquals(sync == DataParallelTrainer.Sync.AVERAGE ? 4 : 8, resumed.losses().size(),
                    sync + ": resumed from the step-4 checkpoint");
            assertArrayEquals(whole.trained(), resumed.trained(), 0f, sync + ": resumed vs uninterrupted");
            assertArrayEquals(whole.lastMask(), resumed.lastMask(), sync + ": masks");
        }
        // decay of pruned weights, SLoRB and re-selected masks: sharded updates give the driver's bits
        Outcome grad = wholeRuns.get(DataParallelTrainer.Sync.GRAD);
        Outcome sharded = wholeRuns.get(DataParallelTrainer.Sync.SHARDED);
        assertArrayEquals(grad.trained(), sharded.trained(), 0f, "sharded vs gradient sync, 4 partitions");
        assertArrayEquals(grad.lastMask(), sharded.lastMask(), "sharded vs gradient sync: masks");
        assertEquals(grad.losses(), sharded.losses(), "sharded vs gradient sync: losses");
        assertEquals(grad.figures(), sharded.figures(), "sharded vs gradient sync: flip rates");
    }
}
