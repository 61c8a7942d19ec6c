package org.sparseft.driver.prune;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.driver.exec.ExecutorModels;
import org.sparseft.driver.exec.ExecutorStorage;
import org.sparseft.driver.exec.OrderedJobs;
import org.sparseft.driver.exec.TaskDevices;
import org.sparseft.driver.train.Shard;
import org.sparseft.model.DecoderModel;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.TensorCodec;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.HeapCopy;
import org.sparseft.numerics.Workspaces;
import org.sparseft.sparsity.DSnoT;
import org.sparseft.sparsity.FeatureStats;
import org.sparseft.sparsity.MaskCriterion;
import org.sparseft.sparsity.OutlierWeighting;
import org.sparseft.sparsity.PrunedWeights;
import org.sparseft.sparsity.SparseGPT;
import org.sparseft.sparsity.SparsityPattern;
import org.sparseft.sparsity.SparsityPlan;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
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

        /** The same options with another number of sequences per forward pass. */
        public Options withMicroBatch(int sequences) {
            return new Options(method, plan, dsnotInitial, dsnot, dsnotSkip, sparseGpt, update, owl, recovery, ignore,
                    sequences);
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

    /**
     * What the pruner did to one weight; its mask and values are in the run's {@link PrunedBlocks}.
     *
     * @param pruned false for a weight left dense on purpose (ignored)
     * @param swaps DSnoT's prune-and-grow swaps (0 for other methods)
     */
    public record Decision(String weight, boolean pruned, long swaps) {
    }

    /**
     * Per block: wall seconds of the calibration passes (advancing the states through the previous block and running
     * this one, statistics included), the part of the tasks' time spent computing statistics (summed over
     * partitions), wall seconds of the driver reading the block's tensors from the checkpoint, of the mask search on
     * the driver, and of block-wise recovery (0 without).
     */
    public record BlockTiming(int block, double calibrationSeconds, double statisticsSeconds, double readSeconds,
                              double maskSeconds, double recoverySeconds) {
    }

    /**
     * @param decisions what was done to each prunable weight, block after block; masks and new values are in
     *                  {@code blocks}
     * @param blocks the masks and new values (pruned weights, and after recovery the blocks' norms and biases)
     * @param recovery what block-wise recovery did to each block, in block order; empty without it
     * @param owl the blocks' outlier ratios and sparsities, or null without OWL
     * @param owlSeconds wall seconds of OWL's dense pass (0 without)
     */
    public record Result(Map<String, Decision> decisions, PrunedBlocks blocks, List<BlockTiming> timings,
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
     * Prunes the checkpoint at {@code modelPath} block by block. Neither the driver nor an executor holds more of the
     * model than about two blocks at a time: each reads the block it works on from the checkpoint, in its stored
     * dtype, into float32; the decisions go to {@code blocks} as each block is done.
     *
     * @param calibration the calibration sequences, one partition's share per {@link Shard}
     * @param storedTypes each tensor's stored dtype, by canonical name: new values are rounded to it, so executors
     *                    compute with the exported model
     * @param blocks where the decisions go (a directory on the output's file system)
     */
    public static Result run(JavaSparkContext jsc, JavaRDD<Shard> calibration, Storage storage, String modelPath,
                             String contentHash, Map<String, DType> storedTypes, PrunedBlocks blocks, Options o,
                             Listener listener) throws IOException {
        try (HfCheckpoint checkpoint = HfCheckpoint.open(storage, modelPath)) {
            return run(jsc, calibration, storage, checkpoint, contentHash, storedTypes, blocks, o, listener);
        }
    }

    private static Result run(JavaSparkContext jsc, JavaRDD<Shard> calibration, Storage storage,
                              HfCheckpoint checkpoint, String contentHash, Map<String, DType> storedTypes,
                              PrunedBlocks blocks, Options o, Listener listener) throws IOException {
        String modelPath = checkpoint.dir();
        ModelConfig config = checkpoint.model();
        int micro = o.microBatch();
        JavaRDD<CalibrationShard> states = embed(calibration, modelPath, contentHash, config, micro);
        OutlierWeighting.Allocation owl = null;
        double owlSeconds = 0;
        if (o.owl() != null) {
            long start = System.nanoTime();
            try {
                owl = outliers(jsc, states, checkpoint, contentHash, o.owl(), o.plan().fallback().ratio(),
                        o.ignore(), micro, listener);
            } catch (RuntimeException | IOException e) {
                states.unpersist(false);
                throw e;
            }
            owlSeconds = (System.nanoTime() - start) / 1e9;
            o = o.withPlan(blockPlan(config, owl.sparsities()));
        }
        Map<String, Decision> decisions = new LinkedHashMap<>();
        List<BlockTiming> timings = new ArrayList<>();
        List<BlockRecovery.Outcome> recovery = new ArrayList<>();
        int layers = config.numLayers();
        try {
            int sequences = o.recovery().enabled() ? states.map(CalibrationShard::sequences).reduce(Integer::sum) : 0;
            for (int layer = 0; layer < layers; layer++) {
                long t0 = System.nanoTime();
                JavaRDD<CalibrationShard> before = null;
                if (layer > 0) { // the inputs of this block: the previous block's outputs, pruned
                    before = states;
                    states = advance(before, modelPath, contentHash, layer - 1, blocks.dir(), micro)
                            .persist(StorageLevel.MEMORY_AND_DISK());
                }
                double[] statisticsSeconds = new double[1];
                Map<String, FeatureStats> stats = blockStats(states, modelPath, contentHash, layer, micro,
                        o.needsGram(), statisticsSeconds);
                if (before != null) { // the new states are cached now; executors may drop the old ones
                    before.unpersist(false);
                }
                long t1 = System.nanoTime();
                Parameters dense = checkpoint.block(layer, DataType.FLOAT);
                long read = System.nanoTime();
                Decided decided = decide(dense, layer, stats, o, storedTypes);
                long t2 = System.nanoTime();
                double recoverySeconds = 0;
                if (o.recovery().enabled()) {
                    BlockRecovery.Outcome r = recover(jsc, states, modelPath, contentHash, dense, layer, decided, o,
                            storedTypes, sequences);
                    recoverySeconds = r.seconds();
                    recovery.add(r);
                    listener.onRecovery(layer, layers, r);
                }
                Map<String, long[]> shapes = new LinkedHashMap<>();
                dense.names().forEach(n -> shapes.put(n, dense.get(n).shape()));
                blocks.write(storage, layer, decided.keep(), decided.values(), shapes, storedTypes);
                dense.release(); // the driver's copy of the block is done with; free it before the next one
                decided.decisions().forEach(d -> decisions.put(d.weight(), d));
                BlockTiming timing = new BlockTiming(layer, (t1 - t0) / 1e9, statisticsSeconds[0], (read - t1) / 1e9,
                        (t2 - read) / 1e9, recoverySeconds);
                timings.add(timing);
                listener.onBlock(layer, layers, timing);
            }
        } finally {
            states.unpersist(false);
            ExecutorModels.releaseParts(); // in local mode the executors are this JVM: free their blocks now
        }
        return new Result(Collections.unmodifiableMap(decisions), blocks, timings, recovery, owl, owlSeconds);
    }

    /**
     * One block's decisions: what happened to each prunable weight, the keep-masks (1 kept, compute layout) of the
     * pruned ones, and the new values (rounded to the stored dtype) of the tensors the method changed.
     */
    private record Decided(List<Decision> decisions, Map<String, byte[]> keep, Map<String, float[]> values) {
    }

    /**
     * Block {@code layer}'s recovery from the tensors pruning left, with the block's other tensors at their dense
     * values; the tensors it changed go into {@code decided}'s values, rounded to their stored dtype.
     */
    private static BlockRecovery.Outcome recover(JavaSparkContext jsc, JavaRDD<CalibrationShard> states,
                                                 String modelPath, String contentHash, Parameters dense, int layer,
                                                 Decided decided, Options o, Map<String, DType> storedTypes,
                                                 int sequences) {
        Map<String, float[]> start = new LinkedHashMap<>();
        Map<String, INDArray> keep = new LinkedHashMap<>();
        Set<String> ignored = new HashSet<>();
        decided.decisions().forEach(d -> {
            if (!d.pruned()) {
                ignored.add(d.weight());
            }
        });
        for (String name : dense.names()) {
            if (ignored.contains(name)) { // left dense, and so it stays
                continue;
            }
            float[] values = decided.values().get(name);
            byte[] k = decided.keep().get(name);
            if (k != null) {
                INDArray mask = PrunedBlocks.keepAsFloats(k, dense.get(name).shape());
                keep.put(name, mask);
                if (values == null) {
                    values = HeapCopy.floats(dense.get(name).mul(mask));
                }
            }
            start.put(name, values != null ? values : HeapCopy.floats(dense.get(name)));
        }
        BlockRecovery.Outcome r = BlockRecovery.run(jsc, states, modelPath, contentHash, DecoderModel.of(dense),
                layer, start, keep, sequences, o.microBatch(), o.recovery());
        r.tensors().forEach((name, values) -> decided.values().put(name, round(name, values, storedTypes)));
        return r.withTensors(Map.of());
    }

    private static float[] round(String name, float[] values, Map<String, DType> storedTypes) {
        DType d = storedTypes.get(name);
        return d == null || !d.readableAsFloat() || d == DType.F64 ? values : TensorCodec.roundTrip(values, d);
    }

    /** The calibration sequences as block 0's inputs, cached on the executors. */
    private static JavaRDD<CalibrationShard> embed(JavaRDD<Shard> calibration, String modelPath, String contentHash,
                                                   ModelConfig config, int micro) {
        int hidden = config.hiddenSize();
        return calibration.map(s -> {
            TaskDevices.pin();
            int seqLen = s.blocks()[0].length;
            float[] out = new float[s.blocks().length * seqLen * hidden];
            try (ExecutorModels.Lease lease = ExecutorModels.part(modelPath, contentHash, ExecutorModels.EMBEDDING,
                    null, ExecutorModels.Pruning.NONE)) {
                DecoderModel m = lease.model();
                for (int from = 0; from < s.blocks().length; from += micro) {
                    int b = Math.min(micro, s.blocks().length - from);
                    int[] tokens = new int[b * seqLen];
                    for (int i = 0; i < b; i++) {
                        System.arraycopy(s.blocks()[from + i], 0, tokens, i * seqLen, seqLen);
                    }
                    float[] h = Workspaces.inStep("calibration",
                            () -> m.embedTokens(tokens, b, seqLen).data().asFloat());
                    System.arraycopy(h, 0, out, from * seqLen * hidden, h.length);
                }
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
                                                              Storage storage, String modelPath, String contentHash,
                                                              OutlierWeighting.Options owl, double target,
                                                              Pattern ignore, int microBatch, Listener listener)
            throws IOException {
        owl.checkFits(target);
        try (HfCheckpoint checkpoint = HfCheckpoint.open(storage, modelPath)) {
            JavaRDD<CalibrationShard> states = embed(calibration, modelPath, contentHash, checkpoint.model(),
                    microBatch);
            try {
                return outliers(jsc, states, checkpoint, contentHash, owl, target, ignore, microBatch, listener);
            } finally {
                states.unpersist(false);
                ExecutorModels.releaseParts();
            }
        }
    }

    /**
     * OWL's first pass: the calibration states through the dense model, block by block, and each block's share of
     * outlier Wanda scores over the linears it prunes; {@code states} (block 0's inputs) stay as they are.
     */
    private static OutlierWeighting.Allocation outliers(JavaSparkContext jsc, JavaRDD<CalibrationShard> states,
                                                       HfCheckpoint checkpoint, String contentHash,
                                                       OutlierWeighting.Options owl, double target, Pattern ignore,
                                                       int micro, Listener listener) throws IOException {
        String modelPath = checkpoint.dir();
        int layers = checkpoint.model().numLayers();
        double[] ratios = new double[layers];
        JavaRDD<CalibrationShard> current = states;
        try {
            for (int layer = 0; layer < layers; layer++) {
                JavaRDD<CalibrationShard> previous = current;
                if (layer > 0) {
                    current = advance(previous, modelPath, contentHash, layer - 1, null, micro)
                            .persist(StorageLevel.MEMORY_AND_DISK());
                }
                Map<String, FeatureStats> stats = blockStats(current, modelPath, contentHash, layer, micro, false,
                        new double[1]);
                if (previous != states && previous != current) { // current is cached now
                    previous.unpersist(false);
                }
                Parameters block = checkpoint.block(layer, DataType.FLOAT);
                ratios[layer] = outlierRatio(block, layer, stats, owl.m(), ignore);
                block.release();
                listener.onOutliers(layer, layers, ratios[layer]);
            }
        } finally {
            if (current != states) {
                current.unpersist(false);
            }
        }
        return OutlierWeighting.allocate(ratios, target, owl);
    }

    /** The share of outliers among the Wanda scores of the block's linears that are pruned (not ignored). */
    private static double outlierRatio(Parameters block, int layer, Map<String, FeatureStats> stats, double m,
                                       Pattern ignore) {
        List<INDArray> scores = new ArrayList<>();
        for (String linear : block.config().prunableLinears(layer)) {
            String name = linear + ".weight";
            if (ignore == null || !ignore.matcher(name).find()) {
                scores.add(MaskCriterion.WANDA.scores(block.get(name), stats.get(name)));
            }
        }
        return OutlierWeighting.outlierRatio(scores, m);
    }

    /** One rule per prunable weight: block l's weights get {@code sparsities[l]}. */
    private static SparsityPlan blockPlan(ModelConfig config, double[] sparsities) {
        List<SparsityPlan.Rule> rules = new ArrayList<>();
        for (int layer = 0; layer < sparsities.length; layer++) {
            SparsityPattern p = new SparsityPattern.Unstructured(sparsities[layer]);
            for (String linear : config.prunableLinears(layer)) {
                rules.add(new SparsityPlan.Rule(Pattern.compile("^" + Pattern.quote(linear + ".weight") + "$"), p));
            }
        }
        return new SparsityPlan(new SparsityPattern.Unstructured(0), rules);
    }

    /** Chooses the masks of block {@code layer}'s linears from its dense tensors. */
    private static Decided decide(Parameters dense, int layer, Map<String, FeatureStats> stats, Options o,
                                  Map<String, DType> storedTypes) {
        List<Decision> decisions = new ArrayList<>();
        Map<String, byte[]> keep = new LinkedHashMap<>();
        Map<String, float[]> values = new LinkedHashMap<>();
        // SparseGPT's factor depends only on the input: linears reading one input (q/k/v, gate/up) share it
        Map<FeatureStats, SparseGPT.Factor> factors = new IdentityHashMap<>();
        for (String linear : dense.config().prunableLinears(layer)) {
            String name = linear + ".weight";
            INDArray w = dense.get(name);
            if (o.ignore() != null && o.ignore().matcher(name).find()) {
                decisions.add(new Decision(name, false, 0));
                continue;
            }
            o.plan().patternFor(name).checkFits(name, w.columns());
            TensorMask m = choose(name, w, stats.get(name), o, factors);
            if (m.updated() != null) { // pruned entries are +0 already, and rounding keeps them so
                values.put(name, round(name, HeapCopy.floats(m.updated()), storedTypes));
            }
            keep.put(name, PrunedWeights.keepBytes(m.keep()));
            decisions.add(new Decision(name, true, m.swaps()));
            Parameters.release(m.keep()); // kept as bytes from here on
            Parameters.release(m.updated());
        }
        return new Decided(decisions, keep, values);
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
            return new TensorMask(name, c.choose(w, stats, pattern), null, true, 0);
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
     * Each partition's states through block {@code layer}: as pruning left it (the decisions in {@code prunedDir}), or
     * dense when {@code prunedDir} is null.
     */
    private static JavaRDD<CalibrationShard> advance(JavaRDD<CalibrationShard> states, String modelPath,
                                                     String contentHash, int layer, String prunedDir, int micro) {
        return states.map(s -> {
            TaskDevices.pin();
            float[] out = new float[s.states().length];
            try (ExecutorModels.Lease lease = ExecutorModels.part(modelPath, contentHash, layer, prunedDir,
                    (dir, block, dense) -> PrunedBlocks.apply(ExecutorStorage.get(), dir, block, dense))) {
                DecoderModel m = lease.model();
                forEachMicroBatch(s, micro, (x, b, from) -> {
                    float[] y = Workspaces.inStep("calibration", () -> m.forwardBlock(layer, x, b, s.seqLen(),
                            EffectiveWeights.DENSE, null).data().asFloat());
                    System.arraycopy(y, 0, out, from * s.seqLen() * s.hidden(), y.length);
                });
            }
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
            Map<String, FeatureStats.Accumulator> mine = new LinkedHashMap<>();
            Map<String, String> first = new LinkedHashMap<>();
            long[] nanos = new long[1];
            try (ExecutorModels.Lease lease = ExecutorModels.part(modelPath, contentHash, layer, null,
                    ExecutorModels.Pruning.NONE)) {
                DecoderModel m = lease.model();
                forEachMicroBatch(s, micro, (x, b, from) -> Workspaces.inStep("calibration", () -> {
                    Map<INDArray, String> readers = new IdentityHashMap<>();
                    m.forwardBlock(layer, x, b, s.seqLen(), EffectiveWeights.DENSE, (weight, input) -> {
                        String reader = readers.get(input);
                        if (reader == null) {
                            readers.put(input, weight);
                            long start = System.nanoTime();
                            mine.computeIfAbsent(weight, w -> new FeatureStats.Accumulator((int) input.columns(),
                                    gram)).add(input, b, s.seqLen());
                            nanos[0] += System.nanoTime() - start;
                            reader = weight;
                        }
                        first.put(weight, reader);
                    });
                    return null;
                }));
            } finally {
                mine.values().forEach(FeatureStats.Accumulator::close);
            }
            return new PartialStats(partition, first.keySet().toArray(String[]::new),
                    first.values().toArray(String[]::new), mine.keySet().toArray(String[]::new),
                    mine.values().stream().map(FeatureStats.Accumulator::finish).toArray(FeatureStats[]::new),
                    nanos[0] / 1e9);
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
            INDArray input = Nd4j.create(x, new long[] {(long) b * s.seqLen(), s.hidden()}, 'c');
            work.run(input, b, from);
            Parameters.release(input);
        }
    }
}
