package org.sparseft.driver.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.TaskContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.BadInputException;
import org.sparseft.InvalidSettingException;
import org.sparseft.RuntimeFailure;
import org.sparseft.driver.SparkSessions;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.Parameters;
import org.sparseft.testing.MiniHdfs;
import org.sparseft.train.AdamW;
import org.sparseft.train.LearningRateSchedule;
import org.sparseft.train.Objective;
import org.sparseft.train.ShardOrder;
import org.sparseft.train.TrainStep;
import org.sparseft.train.Trainer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Data-parallel training through real local Spark (Kryo with registration required). */
class DataParallelTrainerTest {
    private static final LlamaConfig TINY = FrozenModels.TINY;
    private static final int SEQ = 8;
    private static final AdamW.Options ADAM = new AdamW.Options(0.9, 0.95, 1e-8, 0.1);

    @TempDir
    Path tmp;

    private static DataParallelTrainer.Options options(int steps, int batch, DataParallelTrainer.Sync sync, int every,
                                                       int checkpointEvery, double lr) {
        return new DataParallelTrainer.Options(steps, batch, 0, sync, every,
                new LearningRateSchedule(lr, 2, steps, LearningRateSchedule.Decay.COSINE, 0.1), ADAM, 1.0, 3,
                checkpointEvery);
    }

    private static <T> T withSpark(String master, Function<JavaSparkContext, T> work) {
        SparkSession spark = SparkSessions.create("sparseft-test", master, Map.of());
        try {
            return work.apply(JavaSparkContext.fromSparkContext(spark.sparkContext()));
        } finally {
            spark.stop();
        }
    }

    /** Trains a fresh seeded model on {@code data} with P partitions and returns its final flat parameters. */
    private static float[] train(JavaSparkContext jsc, List<int[]> data, int partitions, DataParallelTrainer.Options o,
                                 Storage storage, String runDir, boolean resume, DataParallelTrainer.Listener listener) {
        return train(jsc, data, partitions, Objective.DENSE, o, storage, runDir, resume, listener);
    }

    private static float[] train(JavaSparkContext jsc, List<int[]> data, int partitions, Objective objective,
                                 DataParallelTrainer.Options o, Storage storage, String runDir, boolean resume,
                                 DataParallelTrainer.Listener listener) {
        TrainingShards shards = TrainingShards.of(jsc.parallelize(data, 3), partitions);
        try {
            Parameters params = Parameters.initialize(TINY, 11, DataType.FLOAT);
            try (TrainingRun run = TrainingRun.open(storage, runDir, 2, resume, true, identity(o, shards), params,
                    o.adam())) {
                DataParallelTrainer.run(jsc, shards, params, objective, o, run, listener);
            }
            return params.toFlat();
        } catch (IOException e) {
            throw new RuntimeException(e);
        } finally {
            shards.unpersist();
        }
    }

    private static Map<String, String> identity(DataParallelTrainer.Options o, TrainingShards s) {
        return TrainingState.identity("batch", o.batch(), "partitions", s.partitions(), "steps", o.steps(),
                "data", s.fingerprint());
    }

    private static final DataParallelTrainer.Listener QUIET = (r, p) -> {
    };

    private float[] train(JavaSparkContext jsc, List<int[]> data, int partitions, DataParallelTrainer.Options o) {
        return train(jsc, data, partitions, o, HadoopStorage.withDefaults(), tmp.resolve("run-" + System.nanoTime())
                .toString(), false, QUIET);
    }

    @Test
    void onePartitionRepeatsTheSingleJvmTrainerBitForBitInBothSyncModes() {
        List<int[]> data = FrozenModels.blocks(20);
        DataParallelTrainer.Options grad = options(5, 4, DataParallelTrainer.Sync.GRAD, 1, 0, 3e-3);
        DecoderModel reference = DecoderModel.of(Parameters.initialize(TINY, 11, DataType.FLOAT));
        Trainer.run(reference, data, List.of(), new Trainer.Options(5, 4, 3e-3, 2, LearningRateSchedule.Decay.COSINE,
                0.1, ADAM, 1.0, 3, 0, 1), new Trainer.Listener() {
            @Override
            public void onStep(int step, TrainStep.Result result, double tokensPerSecond) {
            }

            @Override
            public void onValidation(int step, org.sparseft.eval.Perplexity.Result result) {
            }
        });
        float[] expected = reference.parameters().toFlat();
        float[][] got = withSpark("local[2]", jsc -> new float[][] {
                train(jsc, data, 1, grad),
                train(jsc, data, 1, options(5, 4, DataParallelTrainer.Sync.AVERAGE, 2, 0, 3e-3))});
        assertArrayEquals(expected, got[0], 0f, "gradient sync, one partition");
        assertArrayEquals(expected, got[1], 0f, "parameter averaging, one partition");
        assertFalse(java.util.Arrays.equals(expected, Parameters.initialize(TINY, 11, DataType.FLOAT).toFlat()),
                "training changed the parameters");
    }

    @Test
    void sameSeedDataAndPartitionsGiveIdenticalBitsWhateverTheScheduling() {
        List<int[]> data = FrozenModels.blocks(30);
        DataParallelTrainer.Options grad = options(4, 8, DataParallelTrainer.Sync.GRAD, 1, 0, 3e-3);
        DataParallelTrainer.Options avg = options(4, 8, DataParallelTrainer.Sync.AVERAGE, 2, 0, 3e-3);
        float[][] serial = withSpark("local[1]", jsc -> new float[][] {train(jsc, data, 4, grad),
                train(jsc, data, 4, avg)});
        float[][] parallel = withSpark("local[4]", jsc -> new float[][] {train(jsc, data, 4, grad),
                train(jsc, data, 4, avg)});
        assertArrayEquals(serial[0], parallel[0], 0f, "gradient sync: local[1] vs local[4]");
        assertArrayEquals(serial[1], parallel[1], 0f, "averaging: local[1] vs local[4]");
        assertFalse(java.util.Arrays.equals(serial[0], serial[1]), "the two modes differ with 4 partitions");
    }

    @Test
    void shardedSyncGivesTheDriversBitsAtOneTwoAndFourPartitions() {
        List<int[]> data = FrozenModels.blocks(40);
        int longRun = ShardedSync.LINEAGE_STEPS + 3; // past a lineage checkpoint
        withSpark("local[2]", jsc -> {
            for (int partitions : new int[] {1, 2, 4}) {
                int steps = partitions == 2 ? longRun : 5;
                float[] grad = train(jsc, data, partitions, options(steps, 8, DataParallelTrainer.Sync.GRAD, 1, 0,
                        3e-3));
                List<DataParallelTrainer.StepReport> reports = new ArrayList<>();
                String runDir = tmp.resolve("sharded-" + partitions).toString();
                float[] sharded = train(jsc, data, partitions, options(steps, 8, DataParallelTrainer.Sync.SHARDED, 1,
                        0, 3e-3), HadoopStorage.withDefaults(), runDir, false, (r, p) -> reports.add(r));
                assertArrayEquals(grad, sharded, 0f, partitions + " partitions, " + steps + " steps");
                assertEquals(steps, reports.size());
                long count = Parameters.initialize(TINY, 11, DataType.FLOAT).count();
                for (DataParallelTrainer.StepReport r : reports.subList(0, steps - 1)) {
                    assertEquals(0, r.bytesBroadcast(), "nothing broadcast but the objective");
                    assertTrue(r.bytesCollected() < 1000 * partitions, "only norms and losses reach the driver: "
                            + r.bytesCollected());
                    assertEquals(8L * count * partitions, r.bytesExchanged());
                }
                assertEquals(12L * count, reports.get(steps - 1).bytesCollected() - reports.get(0).bytesCollected(),
                        "the final checkpoint gathers parameters and moments");
                assertFalse(new java.io.File(runDir, "sync-lineage").exists(), "lineage checkpoints removed");
            }
            return null;
        });
    }

    @Test
    void shardedRunResumedOnHdfsEndsWithTheGradientSyncsBits() throws Exception {
        List<int[]> data = FrozenModels.blocks(24);
        DataParallelTrainer.Options grad = options(6, 4, DataParallelTrainer.Sync.GRAD, 1, 2, 3e-3);
        DataParallelTrainer.Options sharded = options(6, 4, DataParallelTrainer.Sync.SHARDED, 1, 2, 3e-3);
        int piece = ShardedSync.pieceValues;
        ShardedSync.pieceValues = 1000; // checkpoints gathered in pieces that end inside tensors
        try (MiniHdfs hdfs = new MiniHdfs()) {
            Storage storage = hdfs.storage();
            float[][] result = withSpark("local[2]", jsc -> {
                float[] uninterrupted = train(jsc, data, 2, grad, storage, hdfs.uri() + "/runs/grad", false, QUIET);
                String broken = hdfs.uri() + "/runs/sharded";
                assertThrows(RuntimeException.class, () -> train(jsc, data, 2, sharded, storage, broken, false,
                        (r, p) -> {
                            if (r.step() == 5) {
                                throw new IllegalStateException("simulated crash after step 5");
                            }
                        }));
                return new float[][] {uninterrupted, train(jsc, data, 2, sharded, storage, broken, true, QUIET)};
            });
            assertArrayEquals(result[0], result[1], 0f, "sharded, resumed from step 4, vs gradient sync");
        } finally {
            ShardedSync.pieceValues = piece;
        }
    }

    @Test
    void chunksAreRunsOfWholeTensorsOfAboutEqualSize() {
        Parameters.Spec spec = Parameters.initialize(TINY, 1, DataType.FLOAT).spec();
        List<String> names = new ArrayList<>(spec.layout().keySet());
        long largestTensor = 0;
        long total = 0;
        for (long[] shape : spec.layout().values()) {
            long n = java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            largestTensor = Math.max(largestTensor, n);
            total += n;
        }
        for (int partitions = 1; partitions <= names.size(); partitions++) {
            ParameterChunks chunks = ParameterChunks.of(spec, partitions);
            assertEquals(partitions, chunks.count());
            assertEquals(0, chunks.firstTensor()[0]);
            assertEquals(names.size(), chunks.firstTensor()[partitions]);
            long sum = 0;
            for (int k = 0; k < partitions; k++) {
                assertTrue(chunks.firstTensor()[k] < chunks.firstTensor()[k + 1], "chunk " + k + " is not empty");
                assertTrue(chunks.length(k) <= total / partitions + largestTensor, "chunk " + k + " of " + partitions
                        + " holds " + chunks.length(k) + " values");
                sum += chunks.length(k);
            }
            assertEquals(total, sum);
        }
        Parameters p = Parameters.initialize(TINY, 1, DataType.FLOAT);
        ParameterChunks three = ParameterChunks.of(spec, 3);
        List<float[]> parts = new ArrayList<>();
        for (int k = 0; k < 3; k++) {
            parts.add(three.slice(p, k));
            Parameters tensors = three.tensors(k, parts.get(k));
            for (String n : tensors.names()) {
                assertArrayEquals(p.get(n).dup().data().asFloat(), tensors.get(n).dup().data().asFloat(), 0f, n);
            }
        }
        assertArrayEquals(p.toFlat(), three.join(parts), 0f, "the chunks in order are the flat parameters");
        InvalidSettingException tooMany = assertThrows(InvalidSettingException.class,
                () -> ParameterChunks.of(spec, names.size() + 1));
        assertTrue(tooMany.render(k -> "--" + k).startsWith("--partitions " + (names.size() + 1) + " is more than the "
                + names.size() + " trained tensors"), tooMany.getMessage());
    }

    @Test
    void aStepAppliesTheMeanGradientOfAllPartitionsSequences() {
        List<int[]> data = FrozenModels.blocks(10);
        DataParallelTrainer.Options o = options(1, 4, DataParallelTrainer.Sync.GRAD, 1, 0, 1e-2);
        float[] distributed = withSpark("local[2]", jsc -> train(jsc, data, 2, o));
        // The same step in one JVM on the union of both shares: partition p's share is positions [0, 2) of its
        // shard's order, shard p holding blocks p, p + 2, p + 4, ...
        int[] tokens = new int[4 * SEQ];
        int k = 0;
        for (int p = 0; p < 2; p++) {
            for (int local : new ShardOrder(5, 3, p).take(0, 2)) {
                System.arraycopy(data.get(p + 2 * local), 0, tokens, k++ * SEQ, SEQ);
            }
        }
        DecoderModel model = DecoderModel.of(Parameters.initialize(TINY, 11, DataType.FLOAT));
        TrainStep.run(model, new AdamW(model.parameters(), ADAM), o.schedule(), 0, List.of(tokens), 4, SEQ, 1.0);
        float[] expected = model.parameters().toFlat();
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], distributed[i], 2e-6f, "parameter value " + i);
        }
    }

    @Test
    void resumedRunEndsWithTheUninterruptedRunsBitsOnHdfs() throws Exception {
        List<int[]> data = FrozenModels.blocks(24);
        DataParallelTrainer.Options o = options(6, 4, DataParallelTrainer.Sync.GRAD, 1, 2, 3e-3);
        try (MiniHdfs hdfs = new MiniHdfs()) {
            Storage storage = hdfs.storage();
            String whole = hdfs.uri() + "/runs/whole";
            String broken = hdfs.uri() + "/runs/broken";
            String halfWritten = broken + "/checkpoints/.step-0000006" + org.sparseft.io.AtomicOutput.TEMP_MARK + "1";
            String halfCopied = broken + "/checkpoints/step-0000005";
            float[][] result = withSpark("local[2]", jsc -> {
                float[] uninterrupted = train(jsc, data, 2, o, storage, whole, false, QUIET);
                RuntimeException crash = assertThrows(RuntimeException.class, () -> train(jsc, data, 2, o, storage,
                        broken, false, (r, p) -> {
                            if (r.step() == 5) {
                                throw new IllegalStateException("simulated crash after step 5");
                            }
                        }));
                assertTrue(crash.getMessage().contains("simulated crash"), crash.toString());
                // what a crash while writing the step-6 checkpoint leaves: its temporary directory, half written
                // and a step directory copied without its state.json, newer than the last good checkpoint
                try (var out = storage.create(halfWritten + "/parameters.safetensors");
                     var copied = storage.create(halfCopied + "/parameters.safetensors")) {
                    out.write(new byte[] {1, 2, 3});
                    copied.write(new byte[] {1, 2, 3});
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                float[] resumed = train(jsc, data, 2, o, storage, broken, true, QUIET);
                return new float[][] {uninterrupted, resumed};
            });
            assertArrayEquals(result[0], result[1], 0f, "resumed from step 4 vs uninterrupted");
            CheckpointStore store = new CheckpointStore(storage, broken, 2);
            assertEquals(List.of(4, 6), store.steps(), "the newest two checkpoints are kept");
            assertTrue(!storage.exists(halfWritten), "the half-written checkpoint was ignored, then removed");
            assertTrue(!storage.exists(halfCopied), "so was the step directory without its state.json");
            String metrics = new String(storage.readAllBytes(broken + "/metrics.jsonl"), StandardCharsets.UTF_8);
            List<Integer> steps = new ArrayList<>();
            for (String line : metrics.split("\n")) {
                steps.add(new ObjectMapper().readTree(line).get("step").asInt());
            }
            assertEquals(List.of(1, 2, 3, 4, 5, 6), steps, "step 5's line of the crashed run was dropped on resume");
        }
    }

    @Test
    void nonFiniteLossStopsNamingTheStepAndKeepsTheLastGoodCheckpoint() throws Exception {
        List<int[]> data = FrozenModels.blocks(12);
        Storage storage = HadoopStorage.withDefaults();
        String run = tmp.resolve("nan-run").toString();
        DataParallelTrainer.Options o = options(10, 4, DataParallelTrainer.Sync.GRAD, 1, 1, 1e30);
        RuntimeFailure failure = withSpark("local[2]", jsc -> assertThrows(RuntimeFailure.class,
                () -> train(jsc, data, 2, o, storage, run, false, QUIET)));
        CheckpointStore store = new CheckpointStore(storage, run, 2);
        List<Integer> kept = store.steps();
        assertFalse(kept.isEmpty(), failure.getMessage());
        int last = kept.get(kept.size() - 1);
        assertTrue(failure.getMessage().startsWith("step " + (last + 1) + ": non-finite"), failure.getMessage());
        assertTrue(failure.getMessage().contains(store.path(last)), failure.getMessage());
        Parameters restored = Parameters.initialize(TINY, 0, DataType.FLOAT);
        store.restore(store.latest().orElseThrow(), restored, ADAM);
        for (float v : restored.toFlat()) {
            assertTrue(Float.isFinite(v), "the kept checkpoint holds finite parameters");
        }
    }

    /** Dense training with a fault injected: one partition's gradient at one step gets a NaN. */
    private record NanInOnePartition(int partition, int step) implements Objective {
        @Override
        public double accumulate(Parameters trained, int s, List<int[]> microBatches, int batch, int seqLen,
                                 Parameters grads) {
            double loss = Objective.DENSE.accumulate(trained, s, microBatches, batch, seqLen, grads);
            if (s == step && TaskContext.getPartitionId() == partition) {
                grads.get(grads.names().iterator().next()).putScalar(0, Float.NaN);
            }
            return loss;
        }
    }

    @ParameterizedTest
    @EnumSource(DataParallelTrainer.Sync.class)
    void aNanInOnePartitionsGradientStopsNamingStepAndPartitionAndKeepsTheLastGoodCheckpoint(
            DataParallelTrainer.Sync sync) throws Exception {
        List<int[]> data = FrozenModels.blocks(12);
        Storage storage = HadoopStorage.withDefaults();
        DataParallelTrainer.Options o = options(6, 4, sync, 2, 1, 3e-3);
        int lastGood = sync == DataParallelTrainer.Sync.AVERAGE ? 2 : 3; // averaging checkpoints after rounds of 2
        String run = tmp.resolve("poisoned").toString();
        float[][] atLastGood = {null};
        RuntimeFailure failure = withSpark("local[2]", jsc -> {
            train(jsc, data, 2, Objective.DENSE, o, storage, tmp.resolve("clean").toString(), false, (r, p) -> {
                if (r.step() == lastGood) {
                    atLastGood[0] = p.get().toFlat();
                }
            });
            return assertThrows(RuntimeFailure.class, () -> train(jsc, data, 2, new NanInOnePartition(1, 3), o,
                    storage, run, false, QUIET));
        });
        String m = failure.getMessage();
        assertTrue(m.startsWith("step 4: non-finite gradient") && m.contains("in partition 1 of 2"), m);
        CheckpointStore store = new CheckpointStore(storage, run, 2);
        assertEquals(lastGood, store.steps().get(store.steps().size() - 1), "nothing after the fault was saved");
        assertTrue(m.contains("the last good checkpoint is " + store.path(lastGood)), m);
        Parameters restored = Parameters.initialize(TINY, 0, DataType.FLOAT);
        store.restore(store.latest().orElseThrow(), restored, ADAM);
        assertArrayEquals(atLastGood[0], restored.toFlat(), 0f, "the kept checkpoint is an undisturbed run's");
    }

    @Test
    void badSettingsAreRefusedWithTheFieldNamed() throws Exception {
        List<int[]> data = FrozenModels.blocks(12);
        Storage storage = HadoopStorage.withDefaults();
        String run = tmp.resolve("run").toString();
        withSpark("local[2]", jsc -> {
            InvalidSettingException uneven = assertThrows(InvalidSettingException.class, () -> train(jsc, data, 3,
                    options(2, 4, DataParallelTrainer.Sync.GRAD, 1, 0, 1e-3)));
            assertTrue(uneven.render(k -> "--" + k).contains("--batch 4 is not a multiple of --partitions 3"),
                    uneven.getMessage());
            assertTrue(uneven.getMessage().startsWith("batch 4 is not a multiple of partitions 3"), uneven.getMessage());
            train(jsc, data, 2, options(2, 4, DataParallelTrainer.Sync.GRAD, 1, 1, 1e-3), storage, run, false, QUIET);
            BadInputException changed = assertThrows(BadInputException.class, () -> train(jsc, data, 2,
                    options(3, 4, DataParallelTrainer.Sync.GRAD, 1, 1, 1e-3), storage, run, true, QUIET));
            assertTrue(changed.getMessage().contains("state.json") && changed.getMessage().contains("identity.steps")
                    && changed.getMessage().contains("is 2, this run's is 3"), changed.getMessage());
            InvalidSettingException notFresh = assertThrows(InvalidSettingException.class, () -> TrainingRun.open(
                    storage, run, 2, false, false, Map.of(), Parameters.initialize(TINY, 0, DataType.FLOAT), ADAM));
            assertEquals(List.of("run", "resume", "force"), notFresh.settings(), notFresh.getMessage());
            assertTrue(notFresh.render(k -> "--" + k).startsWith("--run " + run + ": holds checkpoints"),
                    notFresh.getMessage());
            return null;
        });
    }
}
