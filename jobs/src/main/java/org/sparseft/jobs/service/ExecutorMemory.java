package org.sparseft.jobs.service;

import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.sparseft.BadInputException;
import org.sparseft.model.ModelConfig;

import java.util.Locale;

/**
 * The memory an executor has for model tensors, as Spark reports it, and the check that a layer-by-layer pass fits:
 * an executor holds two parts of the model at a time (the embedding or a block, pruned or dense), in float32.
 */
public final class ExecutorMemory {
    private ExecutorMemory() {
    }

    /**
     * {@code spark.executor.memory}; in local mode, where the executors are the driver's JVM, that setting when given
     * and otherwise the JVM's maximum heap (which also bounds ND4J's off-heap buffers by default).
     */
    public static long bytes(SparkContext sc) {
        return bytes(sc.isLocal(), sc.getConf());
    }

    static long bytes(boolean local, SparkConf conf) {
        if (local && !conf.contains("spark.executor.memory")) {
            return Runtime.getRuntime().maxMemory();
        }
        return conf.getSizeAsBytes("spark.executor.memory", "1g");
    }

    /**
     * Sequences per forward pass of a layer-by-layer pass: at most {@code asked}, and as many as keep one pass's
     * float32 activations within a sixteenth of an executor's memory (each task thread keeps a workspace that large),
     * at least one. A pass of one block over one sequence of {@code seqLen} tokens is estimated at the attention
     * scores and probabilities (2·heads·seqLen per token), three MLP-wide tensors and eight hidden-wide ones per token.
     */
    public static int sequencesPerPass(SparkContext sc, ModelConfig config, int seqLen, int asked) {
        return sequencesPerPass(bytes(sc), config, seqLen, asked);
    }

    static int sequencesPerPass(long executorBytes, ModelConfig config, int seqLen, int asked) {
        long widest = 0;
        for (long[] shape : org.sparseft.model.Parameters.computeShapes(config).entrySet().stream()
                .filter(e -> config.layerOf(e.getKey()) == 0).map(java.util.Map.Entry::getValue).toList()) {
            for (long d : shape) {
                widest = Math.max(widest, d);
            }
        }
        long perSequence = 4L * seqLen * (2L * config.numHeads() * seqLen + 3 * widest + 8L * config.hiddenSize());
        long fit = executorBytes / 16 / perSequence;
        return (int) Math.max(1, Math.min(asked, fit));
    }

    /** The float32 bytes of the largest part a layer-by-layer pass loads: the embedding, a block or the head. */
    public static long largestPartBytes(ModelConfig config) {
        long largest = partBytes(config, config.embeddingTensors());
        largest = Math.max(largest, partBytes(config, config.headTensors()));
        for (int l = 0; l < config.numLayers(); l++) {
            largest = Math.max(largest, partBytes(config, config.layerTensors(l).keySet()));
        }
        return largest;
    }

    private static long partBytes(ModelConfig config, java.util.Collection<String> names) {
        var shapes = config.expectedTensors();
        long n = 0;
        for (String name : names) {
            long size = 1;
            for (long d : shapes.get(name)) {
                size *= d;
            }
            n += size;
        }
        return 4 * n;
    }

    /**
     * Refuses, before any work, a model whose two largest parts in float32 do not fit an executor's memory, naming
     * the sizes and the setting to raise.
     */
    public static void checkTwoPartsFit(SparkContext sc, ModelConfig config, String model) {
        checkTwoPartsFit(sc.isLocal(), sc.getConf(), config, model);
    }

    static void checkTwoPartsFit(boolean local, SparkConf conf, ModelConfig config, String model) {
        long part = largestPartBytes(config);
        long available = bytes(local, conf);
        if (2 * part > available) {
            String setting = local && !conf.contains("spark.executor.memory")
                    ? "the JVM's heap (SPARSEFT_DRIVER_MEMORY for deploy/bin/sparseft, --driver-memory for"
                    + " spark-submit)" : "spark.executor.memory";
            throw new BadInputException(String.format(Locale.ROOT, "%s: its largest part (a block, the embedding or"
                            + " the head) takes %s in float32 and an executor holds two at a time (%s), more than the %s an executor has: raise %s",
                    model, gib(part), gib(2 * part), gib(available), setting));
        }
    }

    private static String gib(long bytes) {
        return bytes >= 1L << 30 ? String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30))
                : String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
    }
}
