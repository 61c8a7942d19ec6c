package org.sparseft.driver.prune;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.driver.exec.ExecutorModels;
import org.sparseft.driver.exec.OrderedJobs;
import org.sparseft.driver.exec.TaskDevices;
import org.sparseft.driver.train.Shard;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.numerics.Workspaces;
import org.sparseft.sparsity.DSnoT;
import org.sparseft.sparsity.FeatureStats;
import org.sparseft.sparsity.MaskCriterion;
import org.sparseft.sparsity.OutlierWeighting;
import org.sparseft.sparsity.SparseGPT;
import org.sparseft.sparsity.SparsityPattern;
import org.sparseft.sparsity.SparsityPlan;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One-shot pruning, block by block, as the Wanda and DSnoT reference code runs it (docs/algorithms.md §2.2):
 * the calibration sequences' hidden states live on the executors; for block l, each partition runs them through the
 * dense block and returns per-input-feature sums, the driver adds them in partition order and chooses the masks of
 * all of the block's linears, and the partitions advance their states through the pruned block, which gives block
 * l + 1 its inputs. Only statistics (a few floats per input feature) and masks travel.
 */
public final class LayerwisePruner {
    /** How masks are chosen (docs/algorithms.md §3-§5). */
    public enum Method {
        MAGNITUDE, WANDA, DSNOT, SPARSEGPT
    }

    /** What happens to the kept weights once a mask is chosen. */
    public enum WeightUpdate {
        /** They keep their values (magnitude, Wanda and DSnoT as published). */
        NONE,
        /**
         * SparseGPT's optimal-brain-surgeon sweep with the mask held fixed: the kept weights absorb the pruned ones'
         * error on the calibration inputs (SparseGPT itself always updates).
         */
        OBS
    }

    /**
     * @param plan the sparsity of each weight
     * @param dsnotInitial the mask DSnoT starts from (Wanda by default)
     * @param dsnotSkip linears DSnoT leaves at their initial mask (the reference's default: MLP)
     * @param ignore weights matching it are not pruned (beyond the families' never-pruned tensors)
     * @param sparseGpt SparseGPT's dampening and block size, also those of the OBS update
     * @param update what happens to the kept weights of magnitude, Wanda and DSnoT masks
     * @param owl OWL's settings, when the blocks' sparsities follow their outlier ratios (the plan is then a uniform
     *            unstructured target); null for the plan as given
     * @param recovery the Adam steps on each pruned block towards the dense block's outputs ({@link
     *                 BlockRecovery.Options#NONE} for none)
     * @param microBatch sequences per forward pass inside a partition
     */
    public record Options(Method method, SparsityPlan plan, MaskCriterion dsnotInitial, DSnoT.Options dsnot,
                          DSnoT.SkipLayers dsnotSkip, SparseGPT.Options sparseGpt, WeightUpdate update,
                          OutlierWeighting.Options owl, BlockRecovery.Options recovery, Pattern ignore,
                          int microBatch) {
        public Options {
            Objects.requireNonNull(dsnotSkip, "dsnotSkip");
            Objects.requireNonNull(update, "update");
            Objects.requireNonNull(recovery, "recovery");
            checkUpdate(method, update);
            if (owl != null) {
                checkOwl(owl, plan.fallback(), !plan.rules().isEmpty());
            }
            if (microBatch < 1) {
                throw org.sparseft.InvalidSettingException.of("calib-batch", microBatch, "expected at least 1");
            }
        }

        /** Whether the pruner needs the Gram matrix of each linear's input (d_in² doubles per input). */
        boolean needsGram() {
            return method == Method.SPARSEGPT || update == WeightUpdate.OBS;
        }

        Options withPlan(SparsityPlan p) {
            return new Options(method, p, dsnotInitial, dsnot, dsnotSkip, sparseGpt, update, null, recovery, ignore,
                    microBatch);
        }
    }

    /**
     * Refuses OWL over anything but one unstructured target (N:M is uniform by definition) and a λ that could push a
     * block outside [0, 1).
     */
    public static void checkOwl(OutlierWeighting.Options owl, SparsityPattern target, boolean perLayerRules) {
        if (!(target instanceof SparsityPattern.Unstructured)) {
            throw org.sparseft.InvalidSettingException.of("sparsity-profile", "owl",
                    "OWL allocates unstructured sparsity; N:M patterns stay uniform: use {sparsity}");
        }
        if (perLayerRules) {
            throw org.sparseft.InvalidSettingException.of("sparsity-profile", "owl",
                    "OWL chooses every block's sparsity itself; give it or {sparsity-per-layer}, not both");
        }
        owl.checkFits(target.ratio());
    }

    /** Refuses an update of the kept weights that the method makes itself (SparseGPT always updates). */
    public static void checkUpdate(Method method, WeightUpdate update) {
        if (method == Method.SPARSEGPT && update != WeightUpdate.NONE) {
            throw org.sparseft.InvalidSettingException.of("update", update.name().toLowerCase(java.util.Locale.ROOT),
                    "SparseGPT updates the kept weights itself; use it with {method} magnitude, wanda or dsnot");
        }
    }

    /**
     * What the pruner decided for one weight.
     *
     * @param updated the new values of the whole weight [out, in], already rounded to the stored dtype, when the
     *                method changes surviving weights (SparseGPT, the OBS update); null when the kept weights are
     *                the input's
     */
    public record TensorMask(String weight, INDArray keep, INDArray updated, boolean pruned, long swaps) {
    }

    /** Rounds a weight's new float32 values to what its stored dtype can hold, so executors see the exported model. */
    public interface StoredRounding {
        float[] round(String weight, float[] values);

        StoredRounding NONE = (weight, values) -> values;
    }

    /**
     * Per block: wall seconds of the calibration passes (advancing the states through the previous block and running
     * this one, statistics included), the part of the tasks' time spent computing statistics (summed over
     * partitions), wall seconds of the mask search on the driver, and of block-wise recovery (0 without).
     */
    public record BlockTiming(int block, double calibrationSeconds, double statisticsSeconds, double maskSeconds,
                              double recoverySeconds) {
    }

    /**
     * @param masks what was decided for each prunable weight, new values included
     * @param recovered the new values of the blocks' other tensors (norms, biases) after block-wise recovery, compute
     *                  layout, rounded to their stored dtype; empty without recovery
     * @param recovery what block-wise recovery did to each block, in block order; empty without it
     * @param owl the blocks' outlier ratios and sparsities, or null without OWL
     * @param owlSeconds wall seconds of OWL's dense pass (0 without)
     */
    public record Result(Map<String, TensorMask> masks, Map<String, INDArray> recovered, List<BlockTiming> timings,
                         List<BlockRecovery.Outcome> recovery, OutlierWeighting.Allocation owl, double owlSeconds) {
    }

    /** Progress per block. */
    public interface Listener {
        void onBlock(int block, int blocks, BlockTiming timing);

        /** OWL's dense pass measured block {@code block}'s share of outlier scores. */
        default void onOutliers(int block, int blocks, double outlierRatio) {
        }

        /** Block {@code block} was recovered. */
        default void onRecovery(int block, int blocks, BlockRecovery.Outcome outcome) {
        }
    }

    private LayerwisePruner() {
    }

    /**
     * @param calibration the calibration sequences, one partition's share per {@link Shard}
     * @param model the dense model on the driver (its weights are only read)
     */
    public static Result run(JavaSparkContext jsc, JavaRDD<Shard> calibration, String modelPath, String contentHash,
                             DecoderModel model, Options o, StoredRounding rounding, Listener listener) {
        int micro = o.microBatch();
        JavaRDD<CalibrationShard> states = embed(calibration, modelPath, contentHash, model, micro);
        OutlierWeighting.Allocation owl = null;
        double owlSeconds = 0;
        if (o.owl() != null) {
            long start = System.nanoTime();
            try {
                owl = outliers(jsc, states, modelPath, contentHash, model, o.owl(), o.plan().fallback().ratio(),
                        o.ignore(), micro, listener);
            } catch (RuntimeException e) {
                states.unpersist(false);
                throw e;
            }
            owlSeconds = (System.nanoTime() - start) / 1e9;
            o = o.withPlan(blockPlan(model, owl.sparsities()));
        }
        Map<String, TensorMask> masks = new LinkedHashMap<>();
        Map<String, INDArray> recovered = new LinkedHashMap<>();
        List<BlockTiming> timings = new ArrayList<>();
        List<BlockRecovery.Outcome> recovery = new ArrayList<>();
        int layers = model.config().numLayers();
        Broadcast<Map<String, float[]>> previous = null;
        try {
            int sequences = o.recovery().enabled() ? states.map(CalibrationShard::sequences).reduce(Integer::sum) : 0;
            for (int layer = 0; layer < layers; layer++) {
                long t0 = System.nanoTime();
                JavaRDD<CalibrationShard> before = null;
                if (previous != null) { // the inputs of this block: the previous block's outputs, pruned
                    before = states;
                    states = advance(before, modelPath, contentHash, layer - 1, previous, micro)
                            .persist(StorageLevel.MEMORY_AND_DISK());
                }
                double[] statisticsSeconds = new double[1];
                Map<String, FeatureStats> stats = blockStats(states, modelPath, contentHash, layer, micro,
                        o.needsGram(), statisticsSeconds);
                if (before != null) { // the new states are cached now; executors may drop the old ones
                    before.unpersist(false);
                    previous.unpersist(true);
                }
                long t1 = System.nanoTime();
                Map<String, float[]> block = decide(model, layer, stats, o, rounding, masks);
                long t2 = System.nanoTime();
                double recoverySeconds = 0;
                if (o.recovery().enabled()) {
                    BlockRecovery.Outcome r = recover(jsc, states, modelPath, contentHash, model, layer, block, o,
                            rounding, masks, recovered, sequences);
                    block = r.tensors();
                    recoverySeconds = r.seconds();
                    recovery.add(r.withTensors(Map.of()));
                    listener.onRecovery(layer, layers, r);
                }
                BlockTiming timing = new BlockTiming(layer, (t1 - t0) / 1e9, statisticsSeconds[0], (t2 - t1) / 1e9,
                        recoverySeconds);
                timings.add(timing);
                listener.onBlock(layer, layers, timing);
                previous = jsc.broadcast(block);
            }
        } finally {
            states.unpersist(false);
            if (previous != null) {
                previous.unpersist(true);
            }
        }
        return new Result(Collections.unmodifiableMap(masks), Collections.unmodifiableMap(recovered), timings,
                recovery, owl, owlSeconds);
    }

    /**
     * Block {@code layer}'s recovery from the tensors pruning left ({@code block}: its pruned weights), with the
     * block's other tensors at their dense values; the outcome's tensors rounded to their stored dtype, the pruned
     * weights' new values in {@code masks}, the others' in {@code recovered}.
     */
    private static BlockRecovery.Outcome recover(JavaSparkContext jsc, JavaRDD<CalibrationShard> states,
                                                 String modelPath, String contentHash, DecoderModel model, int layer,
                                                 Map<String, float[]> block, Options o, StoredRounding rounding,
                                                 Map<String, TensorMask> masks, Map<String, INDArray> recovered,
                                                 int sequences) {
        Map<String, float[]> start = new LinkedHashMap<>();
        Map<String, INDArray> keep = new LinkedHashMap<>();
        for (String name : model.config().layerTensors(layer).keySet()) {
            float[] pruned = block.get(name);
            start.put(name, pruned != null ? pruned : model.parameters().get(name).dup('c').data().asFloat());
            TensorMask m = masks.get(name);
            if (m != null && m.pruned()) {
                keep.put(name, m.keep().castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT));
            } else if (m != null) { // ignored: left dense, and so it stays
                start.remove(name);
            }
        }
        BlockRecovery.Outcome r = BlockRecovery.run(jsc, states, modelPath, contentHash, model, layer, start, keep,
                sequences, o.microBatch(), o.recovery());
        Map<String, float[]> rounded = new LinkedHashMap<>();
        r.tensors().forEach((name, values) -> {
            float[] v = rounding.round(name, values);
            rounded.put(name, v);
            INDArray a = Nd4j.create(v, model.parameters().get(name).shape(), 'c');
            TensorMask m = masks.get(name);
            if (m != null) {
                masks.put(name, new TensorMask(name, m.keep(), a, true, m.swaps()));
            } else {
                recovered.put(name, a);
            }
        });
        block.forEach(rounded::putIfAbsent); // ignored linears: as pruning left them
        return r.withTensors(rounded);
    }

    /** The calibration sequences as block 0's inputs, cached on the executors. */
    private static JavaRDD<CalibrationShard> embed(JavaRDD<Shard> calibration, String modelPath, String contentHash,
                                                   DecoderModel model, int micro) {
        int hidden = model.config().hiddenSize();
        return calibration.map(s -> {
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
    }

    /**
     * OWL's allocation alone (docs/algorithms.md §3.6), for methods that prune elsewhere (PST's targets): each block's
     * sparsity from a dense pass of {@code calibration} through the model.
     *
     * @param target the model-wide sparsity the blocks' sparsities average to
     * @param ignore weights left out of the outlier count (as they are of pruning), or null
     */
    public static OutlierWeighting.Allocation outlierAllocation(JavaSparkContext jsc, JavaRDD<Shard> calibration,
                                                              String modelPath, String contentHash,
                                                              DecoderModel model, OutlierWeighting.Options owl,
                                                              double target, Pattern ignore, int microBatch,
                                                              Listener listener) {
        owl.checkFits(target);
        JavaRDD<CalibrationShard> states = embed(calibration, modelPath, contentHash, model, microBatch);
        try {
            return outliers(jsc, states, modelPath, contentHash, model, owl, target, ignore, microBatch, listener);
        } finally {
            states.unpersist(false);
        }
    }

    /**
     * OWL's first pass: the calibration states through the dense model, block by block, and each block's share of
     * outlier Wanda scores over the linears it prunes; {@code states} (block 0's inputs) stay as they are.
     */
    private static OutlierWeighting.Allocation outliers(JavaSparkContext jsc, JavaRDD<CalibrationShard> states,
                                                       String modelPath, String contentHash, DecoderModel model,
                                                       OutlierWeighting.Options owl, double target, Pattern ignore,
                                                       int micro, Listener listener) {
        int layers = model.config().numLayers();
        double[] ratios = new double[layers];
        Broadcast<Map<String, float[]>> dense = jsc.broadcast(new LinkedHashMap<>()); // no weight changed
        JavaRDD<CalibrationShard> current = states;
        try {
            for (int layer = 0; layer < layers; layer++) {
                JavaRDD<CalibrationShard> previous = current;
                if (layer > 0) {
                    current = advance(previous, modelPath, contentHash, layer - 1, dense, micro)
                            .persist(StorageLevel.MEMORY_AND_DISK());
                }
                Map<String, FeatureStats> stats = blockStats(current, modelPath, contentHash, layer, micro, false,
                        new double[1]);
                if (previous != states && previous != current) { // current is cached now
                    previous.unpersist(false);
                }
                ratios[layer] = outlierRatio(model, layer, stats, owl.m(), ignore);
                listener.onOutliers(layer, layers, ratios[layer]);
            }
        } finally {
            if (current != states) {
                current.unpersist(false);
            }
            dense.unpersist(true);
        }
        return OutlierWeighting.allocate(ratios, target, owl);
    }

    /** The share of outliers among the Wanda scores of the block's linears that are pruned (not ignored). */
    private static double outlierRatio(DecoderModel model, int layer, Map<String, FeatureStats> stats, double m,
                                       Pattern ignore) {
        List<INDArray> scores = new ArrayList<>();
        for (String linear : model.config().prunableLinears(layer)) {
            String name = linear + ".weight";
            if (ignore == null || !ignore.matcher(name).find()) {
                scores.add(MaskCriterion.WANDA.scores(model.parameters().get(name), stats.get(name)));
            }
        }
        return OutlierWeighting.outlierRatio(scores, m);
    }

    /** One rule per prunable weight: block l's weights get {@code sparsities[l]}. */
    private static SparsityPlan blockPlan(DecoderModel model, double[] sparsities) {
        List<SparsityPlan.Rule> rules = new ArrayList<>();
        for (int layer = 0; layer < sparsities.length; layer++) {
            SparsityPattern p = new SparsityPattern.Unstructured(sparsities[layer]);
            for (String linear : model.config().prunableLinears(layer)) {
                rules.add(new SparsityPlan.Rule(Pattern.compile("^" + Pattern.quote(linear + ".weight") + "$"), p));
            }
        }
        return new SparsityPlan(new SparsityPattern.Unstructured(0), rules);
    }

    /** Chooses the masks of block {@code layer}'s linears; returns the block's pruned weights, by name. */
    private static Map<String, float[]> decide(DecoderModel model, int layer, Map<String, FeatureStats> stats,
                                               Options o, StoredRounding rounding, Map<String, TensorMask> masks) {
        Map<String, float[]> forExecutors = new LinkedHashMap<>(); // the block's pruned weights, by name
        // SparseGPT's factor depends only on the input: linears reading one input (q/k/v, gate/up) share it
        Map<FeatureStats, SparseGPT.Factor> factors = new IdentityHashMap<>();
        for (String linear : model.config().prunableLinears(layer)) {
            String name = linear + ".weight";
            INDArray w = model.parameters().get(name);
            if (o.ignore() != null && o.ignore().matcher(name).find()) {
                masks.put(name, new TensorMask(name, Nd4j.onesLike(w), null, false, 0));
                continue;
            }
            o.plan().patternFor(name).checkFits(name, w.columns());
            TensorMask m = choose(name, w, stats.get(name), o, factors);
            if (m.updated() != null) { // pruned entries are +0 already, and rounding keeps them so
                INDArray rounded = Nd4j.create(rounding.round(name, m.updated().dup('c').data().asFloat()),
                        w.shape(), 'c');
                m = new TensorMask(name, m.keep(), rounded, true, m.swaps());
            }
            masks.put(name, m);
            INDArray prunedWeight = m.updated() != null ? m.updated() : w.mul(m.keep());
            forExecutors.put(name, prunedWeight.dup('c').data().asFloat());
        }
        return forExecutors;
    }

    /** One linear's mask from its weight [out, in] and input statistics. */
    public static TensorMask choose(String name, INDArray w, FeatureStats stats, Options o) {
        return choose(name, w, stats, o, new IdentityHashMap<>());
    }

    private static TensorMask choose(String name, INDArray w, FeatureStats stats, Options o,
                                     Map<FeatureStats, SparseGPT.Factor> factors) {
        SparsityPattern pattern = o.plan().patternFor(name);
        if (o.method() == Method.SPARSEGPT) {
            SparseGPT.Result r = pattern.ratio() == 0 ? SparseGPT.prune(w, stats, pattern, o.sparseGpt())
                    : SparseGPT.prune(w, factors.computeIfAbsent(stats, st -> SparseGPT.factor(st, o.sparseGpt())),
                    pattern, o.sparseGpt());
            return new TensorMask(name, r.keep(), r.weight(), true, 0);
        }
        TensorMask chosen = maskOnly(name, w, stats, pattern, o);
        if (o.update() == WeightUpdate.NONE || pattern.ratio() == 0) {
            return chosen;
        }
        SparseGPT.Result r = SparseGPT.reconstruct(w, factors.computeIfAbsent(stats,
                st -> SparseGPT.factor(st, o.sparseGpt())), chosen.keep(), o.sparseGpt());
        return new TensorMask(name, chosen.keep(), r.weight(), true, chosen.swaps());
    }

    /** The mask of magnitude, Wanda or DSnoT; the weight's values stay. */
    private static TensorMask maskOnly(String name, INDArray w, FeatureStats stats, SparsityPattern pattern,
                                       Options o) {
        if (o.method() != Method.DSNOT) {
            MaskCriterion c = o.method() == Method.MAGNITUDE ? MaskCriterion.MAGNITUDE : MaskCriterion.WANDA;
            return new TensorMask(name, c.select(c.scores(w, stats), pattern), null, true, 0);
        }
        MaskCriterion initial = o.dsnotInitial();
        INDArray metric = initial.scores(w, stats);
        INDArray keep = DSnoT.initialKeep(metric, pattern); // per row, magnitude too, as the reference
        if (o.dsnotSkip().skips(name)) {
            return new TensorMask(name, keep, null, true, 0);
        }
        DSnoT.Result r = DSnoT.refine(w, stats, keep, metric, pattern, o.dsnot());
        return new TensorMask(name, r.keep(), null, true, r.swaps());
    }

    /**
     * Each partition's states through block {@code layer} with its new tensors (pruned weights; after recovery also
     * norms and biases); the model's other tensors as they are.
     */
    private static JavaRDD<CalibrationShard> advance(JavaRDD<CalibrationShard> states, String modelPath,
                                                     String contentHash, int layer,
                                                     Broadcast<Map<String, float[]>> blockTensors, int micro) {
        return states.map(s -> {
            TaskDevices.pin();
            DecoderModel dense = ExecutorModels.get(modelPath, contentHash);
            Map<String, INDArray> changed = Workspaces.outside(() -> {
                Map<String, INDArray> t = new LinkedHashMap<>();
                blockTensors.value().forEach((n, v) -> t.put(n, Nd4j.create(v, dense.parameters().get(n).shape(),
                        'c')));
                return t;
            });
            DecoderModel m = changed.isEmpty() ? dense : DecoderModel.of(dense.parameters().with(changed));
            float[] out = new float[s.states().length];
            forEachMicroBatch(s, micro, (x, b, from) -> {
                float[] y = Workspaces.inStep("calibration", () -> m.forwardBlock(layer, x, b, s.seqLen(),
                        EffectiveWeights.DENSE, null).data().asFloat());
                System.arraycopy(y, 0, out, from * s.seqLen() * s.hidden(), y.length);
            });
            return new CalibrationShard(s.partition(), s.sequences(), s.seqLen(), s.hidden(), out);
        });
    }

    /**
     * Runs the dense block {@code layer} on every partition and adds the linears' input statistics in partition order.
     * Linears that read the same input (q/k/v, gate/up) share one statistics object, so a Gram matrix travels once.
     */
    private static Map<String, FeatureStats> blockStats(JavaRDD<CalibrationShard> states, String modelPath,
                                                        String contentHash, int layer, int micro, boolean gram,
                                                        double[] statisticsSeconds) {
        Map<String, FeatureStats> total = new LinkedHashMap<>(); // by the first linear reading each input
        Map<String, String> readerOf = new LinkedHashMap<>(); // every linear -> that first reader
        OrderedJobs.run(states, (partition, it) -> {
            TaskDevices.pin();
            CalibrationShard s = it.next();
            DecoderModel m = ExecutorModels.get(modelPath, contentHash);
            Map<String, FeatureStats> mine = new LinkedHashMap<>();
            Map<String, String> first = new LinkedHashMap<>();
            long[] nanos = new long[1];
            forEachMicroBatch(s, micro, (x, b, from) -> Workspaces.inStep("calibration", () -> {
                Map<INDArray, String> readers = new IdentityHashMap<>();
                m.forwardBlock(layer, x, b, s.seqLen(), EffectiveWeights.DENSE, (weight, input) -> {
                    String reader = readers.get(input);
                    if (reader == null) {
                        readers.put(input, weight);
                        long start = System.nanoTime();
                        mine.merge(weight, FeatureStats.of(input, b, s.seqLen(), gram), FeatureStats::plus);
                        nanos[0] += System.nanoTime() - start;
                        reader = weight;
                    }
                    first.put(weight, reader);
                });
                return null;
            }));
            return new PartialStats(partition, first.keySet().toArray(String[]::new),
                    first.values().toArray(String[]::new), mine.keySet().toArray(String[]::new),
                    mine.values().toArray(FeatureStats[]::new), nanos[0] / 1e9);
        }, (PartialStats p) -> {
            statisticsSeconds[0] += p.seconds();
            for (int i = 0; i < p.inputs().length; i++) {
                total.merge(p.inputs()[i], p.stats()[i], FeatureStats::plus);
            }
            for (int i = 0; i < p.weights().length; i++) {
                readerOf.put(p.weights()[i], p.readers()[i]);
            }
        });
        Map<String, FeatureStats> byWeight = new LinkedHashMap<>();
        readerOf.forEach((weight, reader) -> byWeight.put(weight, total.get(reader)));
        return byWeight;
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
