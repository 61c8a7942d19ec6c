package org.sparseft.jobs.bench;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.prune.LayerwisePruner;
import org.sparseft.driver.train.TrainingShards;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.sparsity.DSnoT;
import org.sparseft.sparsity.MaskCriterion;
import org.sparseft.sparsity.SparseGPT;
import org.sparseft.sparsity.SparsityPattern;
import org.sparseft.sparsity.SparsityPlan;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The time one-shot pruning takes per block, split into the calibration passes (with the statistics inside them)
 * and the mask search, for each method, on a checkpoint written in HF layout and random calibration tokens (timing
 * does not depend on the text).
 */
public final class PruneBenchmark {
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
            throws IOException {
        Storage storage = HadoopStorage.withDefaults();
        DecoderModel model;
        String contentHash;
        try (HfCheckpoint c = HfCheckpoint.open(storage, modelDir)) {
            contentHash = c.contentHash();
            model = DecoderModel.of(c.parameters(DataType.FLOAT));
        }
        List<Row> rows = new ArrayList<>();
        SparkSession spark = SparkSessions.create("sparseft bench prune", master, Map.of());
        try {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            TrainingShards shards = TrainingShards.of(jsc.parallelize(
                    SparkTrainingBenchmark.blocks(model.config(), sequences, seqLen), partitions), partitions);
            try {
                for (LayerwisePruner.Method method : methods) {
                    LayerwisePruner.Options o = new LayerwisePruner.Options(method, SparsityPlan.uniform(pattern),
                            MaskCriterion.WANDA, DSnoT.Options.DEFAULT, DSnoT.SkipLayers.MLP, SparseGPT.Options.DEFAULTS, null, 8);
                    LayerwisePruner.run(jsc, shards.rdd(), modelDir, contentHash, model, o,
                            LayerwisePruner.StoredRounding.NONE, (block, blocks, timing) ->
                                    rows.add(new Row(label, method.name().toLowerCase(), timing)));
                }
            } finally {
                shards.unpersist();
            }
        } finally {
            spark.stop();
        }
        return rows;
    }
}
