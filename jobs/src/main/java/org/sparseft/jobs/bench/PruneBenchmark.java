package org.sparseft.jobs.bench;

import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.data.TokenFiles;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.prune.LayerwisePruner;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.jobs.prune.PruneResult;
import org.sparseft.jobs.prune.PruneService;
import org.sparseft.jobs.prune.PruneSpec;
import org.sparseft.jobs.service.JobContext;
import org.sparseft.jobs.service.Progress;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.sparsity.SparsityPattern;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The time one-shot pruning takes per block, split into the calibration passes (with the statistics inside them)
 * and the mask search, for each method: the prune job itself ({@link PruneService}, as {@code sparseft prune} runs
 * it) on a checkpoint in HF layout and random calibration tokens (timing does not depend on the text).
 */
public final class PruneBenchmark {
    /** One block of one method's run. */
    public record Row(String model, String method, LayerwisePruner.BlockTiming timing) {
    }

    private PruneBenchmark() {
    }

    /** Writes seeded random weights of {@code cfg} as an F32 checkpoint in a temporary directory; returns its URI. */
    public static String randomCheckpoint(ModelConfig cfg) throws IOException {
        Path dir = Files.createTempDirectory("sparseft-bench-prune").resolve("model");
        Parameters params = Parameters.initialize(cfg, 0, DataType.FLOAT);
        HfCheckpointWriter.write(HadoopStorage.withDefaults(), dir.toUri().toString(), HfConfig.of(cfg, "float32"),
                params.toEntries(DType.F32), Map.of("producer", "sparseft bench prune"), Map.of(), 0, false);
        return dir.toUri().toString();
    }

    /** Prunes the checkpoint at {@code modelDir} with each method at {@code pattern}, one row per block. */
    public static List<Row> run(String label, String modelDir, String master, int partitions, int sequences,
                                int seqLen, SparsityPattern pattern, List<LayerwisePruner.Method> methods)
            throws Exception {
        Storage storage = HadoopStorage.withDefaults();
        ModelConfig cfg;
        try (HfCheckpoint c = HfCheckpoint.open(storage, modelDir)) {
            cfg = c.model();
        }
        Path work = Files.createTempDirectory("sparseft-bench-prune-run");
        String tokens = work.resolve("calibration.safetensors").toUri().toString();
        TokenFiles.writeBlocks(storage, tokens, SparkTrainingBenchmark.blocks(cfg, sequences, seqLen),
                Map.of("producer", "sparseft bench prune"));
        List<Row> rows = new ArrayList<>();
        SparkSession spark = SparkSessions.create("sparseft bench prune", master, Map.of());
        try {
            for (LayerwisePruner.Method method : methods) {
                String out = work.resolve("pruned-" + method.name().toLowerCase(Locale.ROOT)).toUri().toString();
                PruneSpec.Builder spec = PruneSpec.builder().model(modelDir).out(out).force(true).method(method)
                        .tokens(tokens).nsamples(sequences).seqlen(seqLen).partitions(partitions);
                if (pattern instanceof SparsityPattern.Unstructured u) {
                    spec.sparsity(u.ratio());
                } else {
                    spec.pattern(pattern.structure());
                }
                PruneResult r = PruneService.run(spec.build(), new JobContext(spark, new Progress(
                        new PrintWriter(Writer.nullWriter())), "sparseft bench prune"));
                r.blockTimings().forEach(t -> rows.add(new Row(label, method.name().toLowerCase(Locale.ROOT), t)));
                storage.delete(out);
            }
        } finally {
            SparkSessions.stop(spark);
            storage.delete(work.toUri().toString());
        }
        return rows;
    }
}
