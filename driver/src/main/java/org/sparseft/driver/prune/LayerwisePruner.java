package org.sparseft.driver.prune;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.driver.ExecutorModels;
import org.sparseft.driver.OrderedJobs;
import org.sparseft.driver.TaskDevices;
import org.sparseft.driver.train.Shard;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.Workspaces;
import org.sparseft.sparsity.DSnoT;
import org.sparseft.sparsity.FeatureStats;
import org.sparseft.sparsity.MaskCriterion;
import org.sparseft.sparsity.SparsityPattern;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * One-shot pruning, block by block, as the Wanda and DSnoT reference code runs it (ALGORITHMS.md §1.3, §6.1, §6.3):
 * the calibration sequences' hidden states live on the executors; for block l, each partition runs them through the
 * dense block and returns per-input-feature sums, the driver adds them in partition order and chooses the masks of
 * all of the block's linears, and the partitions advance their states through the pruned block, which gives block
 * l + 1 its inputs. Only statistics (a few floats per input feature) and masks travel.
 */
public final class LayerwisePruner {
    public enum Method { MAGNITUDE, WANDA, DSNOT }

    /**
     * @param dsnotInitial the mask DSnoT starts from (Wanda by default)
     * @param dsnotSkip linears DSnoT leaves at their initial mask: "mlp" (the reference's default), "attn" or "none"
     * @param ignore weights matching it are not pruned (beyond the families' never-pruned tensors)
     * @param microBatch sequences per forward pass inside a partition
     */
    public record Options(Method method, SparsityPattern pattern, MaskCriterion dsnotInitial, DSnoT.Options dsnot,
                          String dsnotSkip, Pattern ignore, int microBatch) {
        public Options {
            if (!List.of("mlp", "attn", "none").contains(dsnotSkip)) {
                throw new org.sparseft.BadInputException("--dsnot-skip-layer " + dsnotSkip
                        + ": expected mlp, attn or none");
            }
            if (microBatch < 1) {
                throw new org.sparseft.BadInputException("--calib-batch " + microBatch + ": expected at least 1");
            }
        }
    }

    /** What the pruner decided for one weight. */
    public record TensorMask(String weight, INDArray keep, boolean pruned, long swaps) {
    }

    /** Per block: seconds in the calibration pass (executors) and in the mask search (driver). */
    public record BlockTiming(int block, double calibrationSeconds, double maskSeconds) {
    }

    public record Result(Map<String, TensorMask> masks, List<BlockTiming> timings) {
    }

    /** Progress per block. */
    public interface Listener {
        void onBlock(int block, int blocks, BlockTiming timing);
    }

    private LayerwisePruner() {
    }

    /**
     * @param calibration the calibration sequences, one partition's share per {@link Shard}
     * @param model the dense model on the driver (its weights are only read)
     */
    public static Result run(JavaSparkContext jsc, JavaRDD<Shard> calibration, String modelPath, String contentHash,
                             DecoderModel model, Options o, Listener listener) {
        int hidden = model.config().hiddenSize();
        int micro = o.microBatch();
        JavaRDD<CalibrationShard> states = calibration.map(s -> {
            TaskDevices.pin();
            DecoderModel m = ExecutorModels.get(modelPath, contentHash);
            int seqLen = s.blocks()[0].length;
            float[] out = new float[s.blocks().length * seqLen * hidden];
            for (int from = 0; from < s.blocks().length; from += micro) {
                int b = Math.min(micro, s.blocks().length - from);
                int[] tokens = new int[b * seqLen];
                for (int i = 0; i < b; i++) {
                    System.arraycopy(s.blocks()[from + i], 0, tokens, i * seqLen, seqLen);
                }
                float[] h = Workspaces.inStep("calibration", () -> m.embedTokens(tokens, b, seqLen).data().asFloat());
                System.arraycopy(h, 0, out, from * seqLen * hidden, h.length);
            }
            return new CalibrationShard(s.partition(), s.blocks().length, seqLen, hidden, out);
        }).persist(StorageLevel.MEMORY_AND_DISK());
        Map<String, TensorMask> masks = new LinkedHashMap<>();
        List<BlockTiming> timings = new ArrayList<>();
        int layers = model.config().numLayers();
        Broadcast<Map<String, float[]>> previous = null;
        try {
            for (int layer = 0; layer < layers; layer++) {
                long t0 = System.nanoTime();
                JavaRDD<CalibrationShard> before = null;
                if (previous != null) { // the inputs of this block: the previous block's outputs, pruned
                    before = states;
                    states = advance(before, modelPath, contentHash, layer - 1, previous, micro)
                            .persist(StorageLevel.MEMORY_AND_DISK());
                }
                Map<String, FeatureStats> stats = blockStats(states, modelPath, contentHash, layer, micro);
                if (before != null) { // the new states are cached now; executors may drop the old ones
                    before.unpersist(false);
                    previous.unpersist(true);
                }
                previous = decide(jsc, model, layer, stats, o, masks, timings, t0, listener, layers);
            }
        } finally {
            states.unpersist(false);
            if (previous != null) {
                previous.unpersist(true);
            }
        }
        return new Result(Collections.unmodifiableMap(masks), timings);
    }

    private static Broadcast<Map<String, float[]>> decide(JavaSparkContext jsc, DecoderModel model, int layer,
                                                          Map<String, FeatureStats> stats, Options o,
                                                          Map<String, TensorMask> masks, List<BlockTiming> timings,
                                                          long t0, Listener listener, int layers) {
        long t1 = System.nanoTime();
        Map<String, float[]> forExecutors = new LinkedHashMap<>();
        for (String linear : model.config().prunableLinears(layer)) {
            String name = linear + ".weight";
            INDArray w = model.parameters().get(name);
            if (o.ignore() != null && o.ignore().matcher(name).find()) {
                masks.put(name, new TensorMask(name, Nd4j.onesLike(w), false, 0));
                continue;
            }
            o.pattern().checkFits(name, w.columns());
            TensorMask m = choose(name, w, stats.get(name), o);
            masks.put(name, m);
            forExecutors.put(name, m.keep().data().asFloat());
        }
        long t2 = System.nanoTime();
        BlockTiming timing = new BlockTiming(layer, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
        timings.add(timing);
        listener.onBlock(layer, layers, timing);
        return jsc.broadcast(forExecutors);
    }

    /** One linear's mask from its weight [out, in] and input statistics. */
    public static TensorMask choose(String name, INDArray w, FeatureStats stats, Options o) {
        if (o.method() != Method.DSNOT) {
            MaskCriterion c = o.method() == Method.MAGNITUDE ? MaskCriterion.MAGNITUDE : MaskCriterion.WANDA;
            return new TensorMask(name, c.select(c.scores(w, stats), o.pattern()), true, 0);
        }
        MaskCriterion initial = o.dsnotInitial();
        INDArray metric = initial.scores(w, stats);
        INDArray keep = initial.select(metric, o.pattern());
        boolean skipped = switch (o.dsnotSkip()) {
            case "mlp" -> name.contains(".mlp.");
            case "attn" -> name.contains(".self_attn.") || name.contains(".attn.");
            default -> false;
        };
        if (skipped) {
            return new TensorMask(name, keep, true, 0);
        }
        DSnoT.Result r = DSnoT.refine(w, stats, keep, metric, o.pattern(), o.dsnot());
        return new TensorMask(name, r.keep(), true, r.swaps());
    }

    /** Each partition's states through block {@code layer} with its masks applied. */
    private static JavaRDD<CalibrationShard> advance(JavaRDD<CalibrationShard> states, String modelPath,
                                                     String contentHash, int layer,
                                                     Broadcast<Map<String, float[]>> masks, int micro) {
        return states.map(s -> {
            TaskDevices.pin();
            DecoderModel m = ExecutorModels.get(modelPath, contentHash);
            Map<String, float[]> keep = masks.value();
            EffectiveWeights masked = (name, w) -> {
                float[] k = keep.get(name);
                return k == null ? w : w.mul(Nd4j.create(k, w.shape(), 'c'));
            };
            float[] out = new float[s.states().length];
            forEachMicroBatch(s, micro, (x, b, from) -> {
                float[] y = Workspaces.inStep("calibration", () -> m.forwardBlock(layer, x, b, s.seqLen(), masked, null)
                        .data().asFloat());
                System.arraycopy(y, 0, out, from * s.seqLen() * s.hidden(), y.length);
            });
            return new CalibrationShard(s.partition(), s.sequences(), s.seqLen(), s.hidden(), out);
        });
    }

    /** Runs the dense block {@code layer} on every partition and adds the linears' input statistics in order. */
    private static Map<String, FeatureStats> blockStats(JavaRDD<CalibrationShard> states, String modelPath,
                                                        String contentHash, int layer, int micro) {
        Map<String, FeatureStats> total = new LinkedHashMap<>();
        OrderedJobs.run(states, (partition, it) -> {
            TaskDevices.pin();
            CalibrationShard s = it.next();
            DecoderModel m = ExecutorModels.get(modelPath, contentHash);
            Map<String, FeatureStats> mine = new LinkedHashMap<>();
            forEachMicroBatch(s, micro, (x, b, from) -> Workspaces.inStep("calibration", () -> {
                Map<INDArray, FeatureStats> seen = new IdentityHashMap<>(); // q/k/v and gate/up share one input
                m.forwardBlock(layer, x, b, s.seqLen(), EffectiveWeights.DENSE, (weight, input) -> {
                    FeatureStats f = seen.computeIfAbsent(input, in -> FeatureStats.of(in, b, s.seqLen()));
                    mine.merge(weight, f, FeatureStats::plus);
                });
                return null;
            }));
            return new PartialStats(partition, mine.keySet().toArray(String[]::new),
                    mine.values().toArray(FeatureStats[]::new));
        }, (PartialStats p) -> {
            for (int i = 0; i < p.weights().length; i++) {
                total.merge(p.weights()[i], p.stats()[i], FeatureStats::plus);
            }
        });
        return total;
    }

    @FunctionalInterface
    private interface MicroBatch {
        void run(INDArray x, int batch, int firstSequence);
    }

    private static void forEachMicroBatch(CalibrationShard s, int micro, MicroBatch work) {
        int rowLen = s.seqLen() * s.hidden();
        for (int from = 0; from < s.sequences(); from += micro) {
            int b = Math.min(micro, s.sequences() - from);
            float[] x = java.util.Arrays.copyOfRange(s.states(), from * rowLen, (from + b) * rowLen);
            work.run(Nd4j.create(x, new long[] {(long) b * s.seqLen(), s.hidden()}, 'c'), b, from);
        }
    }
}
