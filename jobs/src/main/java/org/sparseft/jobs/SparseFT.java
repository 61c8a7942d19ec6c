package org.sparseft.jobs;

import org.apache.spark.sql.SparkSession;
import org.sparseft.RuntimeFailure;
import org.sparseft.driver.SparkSessions;
import org.sparseft.io.HadoopStorage;
import org.sparseft.jobs.evaluate.EvaluateResult;
import org.sparseft.jobs.evaluate.EvaluateService;
import org.sparseft.jobs.evaluate.EvaluateSpec;
import org.sparseft.jobs.inspect.InspectResult;
import org.sparseft.jobs.inspect.InspectService;
import org.sparseft.jobs.finetune.FinetuneResult;
import org.sparseft.jobs.finetune.FinetuneService;
import org.sparseft.jobs.finetune.FinetuneSpec;
import org.sparseft.jobs.pretrain.PretrainResult;
import org.sparseft.jobs.pretrain.PretrainService;
import org.sparseft.jobs.pretrain.PretrainSpec;
import org.sparseft.jobs.prune.PruneResult;
import org.sparseft.jobs.prune.PruneService;
import org.sparseft.jobs.prune.PruneSpec;
import org.sparseft.jobs.service.JobContext;
import org.sparseft.jobs.tokenize.TokenizeResult;
import org.sparseft.jobs.tokenize.TokenizeService;
import org.sparseft.jobs.tokenize.TokenizeSpec;

import java.io.IOException;

/**
 * sparseft's jobs for Spark applications, notebooks and {@code spark-shell}: each runs a spec on the caller's
 * session (which it neither starts nor stops) and returns what it wrote and measured. The command line and recipes
 * run the same services.
 *
 * <pre>{@code
 * PruneResult r = SparseFT.prune(spark, PruneSpec.builder()
 *         .model("hdfs:///models/llama").out("hdfs:///models/llama-2of4")
 *         .method(LayerwisePruner.Method.WANDA).pattern("2:4")
 *         .calib("hdfs:///corpus/calibration.txt").build());
 * }</pre>
 *
 * Bad settings or input throw {@link org.sparseft.BadInputException} (its subclass
 * {@link org.sparseft.InvalidSettingException} names the setting by its key); failures on valid input throw
 * {@link RuntimeFailure}. Progress lines go to standard error.
 */
public final class SparseFT {
    private SparseFT() {
    }

    /** One-shot pruning (magnitude, Wanda, DSnoT, SparseGPT) of a dense checkpoint with calibration data. */
    public static PruneResult prune(SparkSession spark, PruneSpec spec) throws IOException {
        return call(() -> PruneService.run(spec, context(spark, "prune")));
    }

    /**
     * Perplexity of a model on non-overlapping windows of its input (the Wanda/SparseGPT protocol), spread over the
     * session's executors; with {@code out}, also written as JSON.
     */
    public static EvaluateResult evaluate(SparkSession spark, EvaluateSpec spec) throws IOException {
        return call(() -> EvaluateService.run(spec, context(spark, "evaluate")));
    }

    /**
     * What a Hugging Face checkpoint holds, tensor by tensor (dtype, shape, exact zeros, N:M conformance), read on
     * this machine without Spark through the file systems of the default Hadoop configuration.
     */
    public static InspectResult inspect(String model) throws IOException {
        return call(() -> InspectService.run(HadoopStorage.withDefaults(), model));
    }

    /** As {@link #inspect(String)}, through the file systems of the session's Hadoop configuration. */
    public static InspectResult inspect(SparkSession spark, String model) throws IOException {
        return call(() -> InspectService.run(SparkSessions.storage(spark), model));
    }

    /**
     * Text (or a token file) cut into blocks of {@code seqlen} tokens, written as a safetensors file that every job
     * reads as {@code tokens}.
     */
    public static TokenizeResult tokenize(SparkSession spark, TokenizeSpec spec) throws IOException {
        return call(() -> TokenizeService.run(spec, context(spark, "tokenize")));
    }

    /**
     * Sparse fine-tuning (PST or AST) of a checkpoint, exported as a sparse checkpoint in the input's layout with
     * {@code masks.safetensors} and {@code sparsity.json}. Training is data-parallel on the session's executors with
     * checkpoints in the run directory; with {@code resume(true)} an interrupted run continues from its newest
     * checkpoint to the same final weights.
     *
     * <pre>{@code
     * FinetuneResult r = SparseFT.finetune(spark, FinetuneSpec.builder()
     *         .model("hdfs:///models/llama").out("hdfs:///models/llama-ast")
     *         .method(FinetuneSpec.Method.AST).pattern("2:4")
     *         .tokens("hdfs:///corpus/train.safetensors").steps(300).build());
     * }</pre>
     */
    public static FinetuneResult finetune(SparkSession spark, FinetuneSpec spec) throws IOException {
        return call(() -> FinetuneService.run(spec, context(spark, "finetune")));
    }

    /**
     * Trains the architecture of a Hugging Face config.json from scratch (or on from a checkpoint's weights) and
     * saves a Hugging Face checkpoint with {@code training.json}. Training is data-parallel on the session's
     * executors with checkpoints in the run directory; with {@code resume(true)} an interrupted run continues from
     * its newest checkpoint to the same final weights.
     */
    public static PretrainResult pretrain(SparkSession spark, PretrainSpec spec) throws IOException {
        return call(() -> PretrainService.run(spec, context(spark, "pretrain")));
    }

    /**
     * The Spark settings a session must have before sparseft's jobs can run on it: Kryo with sparseft's registrator,
     * and room for large task results. Pass them to {@code spark-shell} or {@code spark-submit} as {@code --conf}, or
     * to {@code SparkSession.builder().config(k, v)}; a job on a session without the serializer and registrator
     * throws {@link org.sparseft.BadInputException} naming them.
     */
    public static java.util.Map<String, String> sparkSettings() {
        return SparkSessions.settings();
    }

    private static JobContext context(SparkSession spark, String job) {
        if (!SparkSessions.hasSerialization(spark)) {
            org.apache.spark.SparkConf conf = spark.sparkContext().getConf();
            StringBuilder flags = new StringBuilder();
            sparkSettings().forEach((k, v) -> flags.append(" --conf ").append(k).append('=').append(v));
            throw new org.sparseft.BadInputException("the Spark session lacks sparseft's serialization (spark.serializer "
                    + conf.get("spark.serializer", "unset") + ", spark.kryo.registrator "
                    + conf.get("spark.kryo.registrator", "unset") + "): start it with" + flags
                    + " (SparseFT.sparkSettings() has them for a session built in code)");
        }
        return JobContext.of(spark, "SparseFT." + job + " (Java API)");
    }

    private interface Job<R> {
        R run() throws Exception;
    }

    /** I/O and unchecked exceptions as they are; any other checked exception as a runtime failure. */
    private static <R> R call(Job<R> job) throws IOException {
        try {
            return job.run();
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new RuntimeFailure(e.getMessage(), e);
        }
    }
}
