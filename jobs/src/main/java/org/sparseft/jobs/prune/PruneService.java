package org.sparseft.jobs.prune;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.sparseft.InvalidSettingException;
import org.sparseft.driver.prune.BlockRecovery;
import org.sparseft.driver.prune.LayerwisePruner;
import org.sparseft.driver.prune.PrunedBlocks;
import org.sparseft.driver.train.TrainingShards;
import org.sparseft.io.AtomicOutput;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.SlorbBranch;
import org.sparseft.io.safetensors.DType;
import org.sparseft.jobs.service.DataInput;
import org.sparseft.jobs.service.ExecutorMemory;
import org.sparseft.jobs.service.JobContext;
import org.sparseft.jobs.service.Outputs;
import org.sparseft.jobs.service.Progress;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.sparsity.OutlierWeighting;
import org.sparseft.sparsity.SparseExport;
import org.sparseft.sparsity.SparsityFile;
import org.sparseft.sparsity.SparsityPattern;
import org.sparseft.sparsity.SparsityPlan;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Runs a {@link PruneSpec}: samples calibration sequences, prunes block by block on Spark
 * ({@link LayerwisePruner}), and writes the input's files with pruned weights exactly zero plus
 * {@code sparsity.json} and {@code masks.safetensors}.
 */
public final class PruneService {
    private PruneService() {
    }

    /**
     * Runs {@code spec} on the context's session (which it neither starts nor stops); returns what was written and
     * measured.
     */
    public static PruneResult run(PruneSpec spec, JobContext context) throws Exception {
        Storage storage = context.storage();
        Progress progress = context.progress();
        SparsityPlan plan = plan(spec, storage);
        LayerwisePruner.Method method = spec.method();
        LayerwisePruner.Options options = new LayerwisePruner.Options(method, plan, spec.dsnotInitial(), spec.dsnot(),
                spec.dsnotSkipLayer(), spec.sparseGpt(), spec.update(), spec.owl(), spec.recovery(), spec.ignore(),
                spec.calibBatch());
        String out = spec.out();
        Outputs.refuseOverlap(storage, "out", out, "model", spec.model());
        Outputs.check(storage, "out", out, spec.force());
        Input in = load(spec, context, plan);
        var cfg = in.config();
        Calibration calib = calibration(spec, context, in);
        String methodName = method.name().toLowerCase(Locale.ROOT);
        progress.step(String.format("pruning %s (%d blocks) with %s, %s, on %d calibration sequences of %d tokens"
                        + " in %d partitions", cfg.modelType(), cfg.numLayers(), methodName, spec.target().label(),
                calib.sequences(), calib.seqlen(), calib.partitions()));
        int perPass = ExecutorMemory.sequencesPerPass(context.spark().sparkContext(), cfg, calib.seqlen(),
                spec.calibBatch());
        if (perPass < spec.calibBatch()) {
            progress.step(perPass + (perPass == 1 ? " sequence" : " sequences") + " per forward pass (calib-batch "
                    + spec.calibBatch() + "): one pass's activations kept within a sixteenth of an executor's memory");
            options = options.withMicroBatch(perPass);
        }
        // the decisions, block by block, beside the output on its file system (executors read them)
        PrunedBlocks blocks = new PrunedBlocks(AtomicOutput.tempSibling(storage.qualify(out)) + "-blocks");
        try {
            return prune(spec, context, plan, options, in, calib, blocks);
        } finally {
            blocks.delete(storage);
        }
    }

    /** Prunes block by block into {@code blocks}, then writes the output from them. */
    private static PruneResult prune(PruneSpec spec, JobContext context, SparsityPlan plan,
                                     LayerwisePruner.Options options, Input in, Calibration calib,
                                     PrunedBlocks blocks) throws Exception {
        Storage storage = context.storage();
        Progress progress = context.progress();
        LayerwisePruner.Method method = spec.method();
        String methodName = method.name().toLowerCase(Locale.ROOT);
        String out = spec.out();
        var cfg = in.config();
        long started = System.nanoTime();
        LayerwisePruner.Result result;
        try {
            result = LayerwisePruner.run(JavaSparkContext.fromSparkContext(context.spark().sparkContext()),
                    calib.shards().rdd(), storage, in.path(), in.contentHash(), in.storedTypes(), blocks, options,
                    new LayerwisePruner.Listener() {
                        @Override
                        public void onBlock(int block, int total, LayerwisePruner.BlockTiming timing) {
                            progress.step(String.format("block %d/%d: calibration %.2f s (statistics %.2f s),"
                                            + " reading the block %.2f s, masks %.2f s", block + 1, total,
                                    timing.calibrationSeconds(), timing.statisticsSeconds(), timing.readSeconds(),
                                    timing.maskSeconds()));
                        }

                        @Override
                        public void onRecovery(int block, int total, BlockRecovery.Outcome r) {
                            String kept = Double.isNaN(r.heldOutStart()) ? "" : r.keptStep() == 0
                                    ? String.format(Locale.ROOT, "; held out %.4g, no step improved on it: one-shot"
                                            + " weights kept", r.heldOutStart())
                                    : String.format(Locale.ROOT, "; held out %.4g -> %.4g, step %d kept",
                                            r.heldOutStart(), r.heldOutBest(), r.keptStep());
                            progress.step(String.format(Locale.ROOT, "block %d/%d recovered: mean squared error"
                                            + " %.4g on the first step's batch, %.4g on the last's%s, %.1f s",
                                    block + 1, total, r.firstError(), r.lastError(), kept, r.seconds()));
                        }

                        @Override
                        public void onOutliers(int block, int total, double outlierRatio) {
                            progress.step(String.format(Locale.ROOT, "OWL, dense pass: block %d/%d has %.3f%% outlier"
                                    + " scores", block + 1, total, 100 * outlierRatio));
                        }
                    });
        } finally {
            calib.shards().unpersist();
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        Pruned pruned = Pruned.of(result);
        String structure = plan.structure(pruned.masked());
        PruneProvenance provenance = new PruneProvenance("sparseft prune", context.invocation(), in.path(),
                in.contentHash(), methodName, structure, spec.target().ratio(), perLayer(spec, plan),
                new PruneProvenance.Calibration(spec.calibration().uri(), calib.sequences(), calib.seqlen(),
                        spec.seed(), calib.partitions(), calib.shards().fingerprint()),
                method != LayerwisePruner.Method.SPARSEGPT ? null : new PruneProvenance.SparseGpt(
                        spec.sparseGpt().percDamp(), spec.sparseGpt().blockSize(), true),
                spec.update() != LayerwisePruner.WeightUpdate.OBS ? null : new PruneProvenance.ObsUpdate(
                        spec.sparseGpt().percDamp(), spec.sparseGpt().blockSize()),
                result.owl() == null ? null : OutlierWeighting.Plan.of(result.owl(), result.owlSeconds()),
                !spec.recovery().enabled() ? null : PruneProvenance.Recovery.of(spec.recovery(), calib.sequences(),
                        result.recovery()),
                method != LayerwisePruner.Method.DSNOT ? null : new PruneProvenance.Dsnot(
                        spec.dsnotInitial().name().toLowerCase(Locale.ROOT), spec.dsnot().maxCycles(),
                        spec.dsnot().updateThreshold(), spec.dsnot().powOfVarRegrowing(), options.dsnotSkip().key(),
                        spec.dsnot().signCheck() == null ? "reference default" : spec.dsnot().signCheck().toString(),
                        pruned.swaps()),
                seconds);
        progress.step("writing " + out);
        SparsityFile<PruneProvenance> written = SparseExport.write(storage, in.path(), out,
                blocks.weights(storage, cfg), structure, provenance, pruned.ignored(), spec.exportMetadata(),
                Map.of(), spec.force());
        return new PruneResult(in.path(), cfg.modelType(), cfg.numLayers(), method, spec.target().label(),
                pruned.swaps(), calib.sequences(), calib.seqlen(), calib.partitions(), seconds,
                written.globalSparsity(), pruned.masked().size(), out, written, result.timings());
    }

    /** The uniform target, or the per-layer rules of {@code sparsity-per-layer} over it. */
    private static SparsityPlan plan(PruneSpec spec, Storage storage) throws IOException {
        SparsityPlan plan = SparsityPlan.uniform(spec.target());
        if (spec.sparsityPerLayer() == null) {
            return plan;
        }
        if (!storage.exists(spec.sparsityPerLayer())) {
            throw InvalidSettingException.of("sparsity-per-layer", spec.sparsityPerLayer(), "no such file");
        }
        return SparsityPlan.parse(spec.sparsityPerLayer(), storage.readAllBytes(spec.sparsityPerLayer()),
                spec.target());
    }

    /** The input checkpoint, checked: the plan fits it and every value is finite. */
    private record Input(String path, String contentHash, ModelConfig config, Map<String, DType> storedTypes) {
    }

    private static Input load(PruneSpec spec, JobContext context, SparsityPlan plan) throws IOException {
        Storage storage = context.storage();
        String modelPath = storage.qualify(spec.model());
        try (HfCheckpoint c = HfCheckpoint.open(storage, modelPath)) {
            c.validateAgainstConfig();
            SlorbBranch.refuseAsInput(storage, modelPath);
            Map<String, long[]> shapes = Parameters.computeShapes(c.model());
            for (String w : c.model().prunableWeights()) {
                plan.patternFor(w).checkFits(w, shapes.get(w)[1]);
            }
            ExecutorMemory.checkTwoPartsFit(context.spark().sparkContext(), c.model(), modelPath);
            context.progress().step("checking " + modelPath);
            // tensor by tensor, so a bad value is refused before any work while memory holds one tensor
            c.checkFinite(c.model().expectedTensors().keySet());
            return new Input(modelPath, c.contentHash(), c.model(), c.dtypesByCanonicalName());
        }
    }

    /** The calibration sample, cached on the executors in its partitions. */
    private record Calibration(TrainingShards shards, int sequences, int seqlen, int partitions) {
    }

    private static Calibration calibration(PruneSpec spec, JobContext context, Input in) throws Exception {
        Storage storage = context.storage();
        var cfg = in.config();
        int t = spec.seqlen() != null ? spec.seqlen() : Math.min(cfg.maxPositions(), 2048);
        if (t < 2 || t > cfg.maxPositions()) {
            throw InvalidSettingException.of("seqlen", t, "expected 2.." + cfg.maxPositions()
                    + " (the model's positions)");
        }
        DataInput input = spec.calibration();
        String tokenizer = input.tokenizerFor(storage, spec.tokenizer(), spec.model(), in.path());
        DataInput.Blocks blocks = input.blocks(context.spark(), tokenizer, cfg.vocabSize(), t, context.progress());
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(context.spark().sparkContext());
        int n = (int) Math.min(spec.nsamples(), blocks.count());
        if (n < spec.nsamples()) {
            context.progress().step("the calibration data has " + blocks.count() + " blocks of " + t
                    + " tokens; using all");
        }
        JavaRDD<int[]> sampled = blocks.sample(n, spec.seed());
        int p = spec.partitions() != null ? Math.min(spec.partitions(), n)
                : Math.max(1, Math.min(jsc.defaultParallelism(), n));
        TrainingShards shards = TrainingShards.of(sampled, p);
        blocks.blocks().unpersist(false);
        return new Calibration(shards, n, t, p);
    }

    /** What the pruner chose: the weights it masked, the modules it left dense, DSnoT's swaps. */
    private record Pruned(Set<String> masked, List<String> ignored, long swaps) {
        static Pruned of(LayerwisePruner.Result result) {
            Set<String> masked = new LinkedHashSet<>();
            List<String> ignored = new ArrayList<>();
            long swaps = 0;
            for (LayerwisePruner.Decision d : result.decisions().values()) {
                if (d.pruned()) {
                    masked.add(d.weight());
                    swaps += d.swaps();
                } else {
                    ignored.add(d.weight().substring(0, d.weight().length() - ".weight".length()));
                }
            }
            return new Pruned(masked, ignored, swaps);
        }
    }

    /** The per-layer rules for sparsity.json: the file, then each name pattern's ratio or N:M; null without. */
    private static Map<String, String> perLayer(PruneSpec spec, SparsityPlan plan) {
        if (plan.rules().isEmpty()) {
            return null;
        }
        Map<String, String> perLayer = new LinkedHashMap<>();
        perLayer.put("file", spec.sparsityPerLayer());
        for (SparsityPlan.Rule r : plan.rules()) {
            perLayer.put(r.names().pattern(), r.pattern() instanceof SparsityPattern.Unstructured u
                    ? Double.toString(u.ratio()) : r.pattern().structure());
        }
        return perLayer;
    }
}
