package org.sparseft.jobs.finetune;

import org.apache.spark.api.java.JavaSparkContext;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.InvalidSettingException;
import org.sparseft.ast.Slorb;
import org.sparseft.driver.prune.LayerwisePruner;
import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.driver.train.TrainingRun;
import org.sparseft.driver.train.TrainingShards;
import org.sparseft.driver.train.TrainingState;
import org.sparseft.eval.Perplexity;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.SlorbBranch;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.TensorCodec;
import org.sparseft.jobs.service.DataInput;
import org.sparseft.jobs.service.JobContext;
import org.sparseft.jobs.service.Outputs;
import org.sparseft.jobs.service.Progress;
import org.sparseft.jobs.training.TrainingProgress;
import org.sparseft.jobs.training.TrainingSettings;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.Parameters;
import org.sparseft.sparsity.OutlierWeighting;
import org.sparseft.sparsity.SparseExport;
import org.sparseft.sparsity.SparsityFile;
import org.sparseft.sparsity.SparsityPattern;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Runs a {@link FinetuneSpec}: loads the checkpoint, trains the method's tensors data-parallel on Spark with
 * checkpoints in the run directory (resumable to the same bits), and writes the input's layout with the sparse
 * weights in place, {@code masks.safetensors} and {@code sparsity.json}, like prune's.
 */
public final class FinetuneService {
    private FinetuneService() {
    }

    /**
     * Runs {@code spec} on the context's session (which it neither starts nor stops); returns what was trained,
     * measured and written.
     */
    public static FinetuneResult run(FinetuneSpec spec, JobContext context) throws Exception {
        Storage storage = context.storage();
        Progress progress = context.progress();
        TrainingSettings training = spec.training();
        SparsityPattern pattern = spec.target();
        FinetuneMethod method = FinetuneMethod.of(spec);
        DataParallelTrainer.Options options = training.trainer();
        String out = spec.out();
        Outputs.refuseOverlap(storage, "out", out, "model", spec.model());
        Outputs.check(storage, "out", out, spec.force());
        String modelPath = storage.qualify(spec.model());
        String run = training.runDirectory(storage, out);
        Outputs.checkWritable(storage, "run", run);
        int slorbGroup = spec.ast() != null ? spec.ast().slorbGroup() : 0;
        Input in = load(storage, modelPath, pattern, slorbGroup, progress);
        String contentHash = in.contentHash();
        Parameters base = in.base();
        Map<String, DType> storedTypes = in.storedTypes();
        DecoderModel dense = DecoderModel.of(base);
        var cfg = base.config();
        int seqLen = training.seqlen();
        if (seqLen > cfg.maxPositions()) {
            throw new InvalidSettingException("{seqlen} " + seqLen + " exceeds the model's " + cfg.maxPositions()
                    + " positions");
        }
        DataInput input = spec.data();
        String tokSpec = input.tokenizerFor(storage, spec.tokenizer(), spec.model(), modelPath);
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(context.spark().sparkContext());
        int p = training.partitions(jsc);
        training.share(p);
        DataInput.Blocks blocks = input.blocks(context.spark(), tokSpec, cfg.vocabSize(), seqLen, progress);
        OutlierWeighting.Plan owl = null;
        if (spec.owl() != null) { // PST's blocks get OWL's sparsities, from a dense pass over a sample
            owl = outlierPlan(spec, context, blocks, modelPath, contentHash, dense, p);
            method = new PstFinetune(spec.pst().withBlockSparsity(owl.blockSparsity()));
        }
        FinetuneMethod m = method;
        TrainingShards shards = TrainingShards.of(blocks.blocks(), p);
        blocks.blocks().unpersist(false);
        DataInput validation = spec.validation();
        List<int[]> val = validation == null ? List.of() : validation.firstBlocks(context.spark(),
                validation.tokenizerFor(storage, spec.tokenizer(), spec.model(), modelPath), cfg.vocabSize(), seqLen,
                training.evalWindows(), progress);
        int steps = training.steps();
        int batch = training.batch();
        Perplexity.Result before = val.isEmpty() ? null
                : Perplexity.of(Perplexity.windowNlls(dense, val, batch, EffectiveWeights.DENSE), seqLen);
        if (before != null) {
            progress.step(String.format("validation perplexity before: %.3f (dense)", before.perplexity()));
        }
        FinetuneMethod.Training start = m.start(dense, modelPath, contentHash, steps, training.seed());
        Parameters trained = start.trained();
        Map<String, String> identity = new LinkedHashMap<>(TrainingState.identity("method", m.name(), "model",
                contentHash, "target", pattern.structure() + "@" + pattern.ratio(), "data", shards.fingerprint(),
                "blocks", shards.blocks()));
        identity.putAll(m.identity());
        identity.putAll(TrainingState.identity(training.identity(p)));
        DataParallelTrainer.Summary summary;
        DataParallelTrainer.checkSettings(jsc, trained.spec(), p, options); // before the run directory is made
        try (TrainingRun trainingRun = TrainingRun.open(storage, run, training.keep(), training.resume(),
                spec.force(), identity, trained, training.adam(), start.objective())) {
            trainingRun.resumedFrom().ifPresent(c -> progress.step("resuming from " + c + " (step "
                    + trainingRun.startStep() + ")"));
            progress.step(String.format("%s on %s: %s; steps %d..%d of %d x %d tokens in %d partitions (%s),"
                            + " target %s; run directory %s", m.name().toUpperCase(Locale.ROOT), cfg.modelType(),
                    start.summary(), trainingRun.startStep() + 1, steps, batch, seqLen, p,
                    TrainingProgress.syncTraffic(training, trained.count(), p), pattern.label(), run));
            TrainingProgress listener = new TrainingProgress(progress, training, trainingRun, val.isEmpty() ? null
                    : (done, current) -> {
                        FinetuneMethod.View view = m.at(dense, current, done, steps);
                        return Perplexity.of(Perplexity.windowNlls(view.model(), val, batch, view.weights()), seqLen);
                    });
            summary = DataParallelTrainer.run(jsc, shards, trained, start.objective(), options, trainingRun,
                    listener);
        } finally {
            shards.unpersist();
        }
        FinetuneMethod.Export export = m.export(dense, trained, steps);
        Map<String, INDArray> updated = new LinkedHashMap<>(); // as the stored dtypes hold them
        export.updated().forEach((name, e) -> updated.put(name, Nd4j.create(TensorCodec.roundTrip(
                e.dup('c').data().asFloat(), storedTypes.get(name)), e.shape(), 'c')));
        Parameters exportedParams = base.castTo(DataType.FLOAT);
        updated.forEach((name, values) -> exportedParams.get(name).assign(values));
        DecoderModel exported = DecoderModel.of(exportedParams);
        Perplexity.Result after = val.isEmpty() ? null : Perplexity.of(Perplexity.windowNlls(exported, val, batch,
                (name, stored) -> { // the model as exported, with the extra branch when there is one
                    INDArray b = export.branch().get(name);
                    return b == null ? stored : stored.add(b);
                }), seqLen);
        Perplexity.Result withoutBranch = val.isEmpty() || export.branch().isEmpty() ? null
                : Perplexity.of(Perplexity.windowNlls(exported, val, batch, EffectiveWeights.DENSE), seqLen);
        FinetuneProvenance.Training trainedOn = new FinetuneProvenance.Training(input.uri(), shards.fingerprint(),
                steps, batch, seqLen, p, training.sync().name().toLowerCase(Locale.ROOT), run, summary.firstStep(),
                summary.finalLoss(), summary.seconds());
        FinetuneResult.Validation v = null;
        FinetuneProvenance.Validation validated = null;
        if (before != null) {
            Double afterWithoutBranch = withoutBranch == null ? null : withoutBranch.perplexity();
            validated = new FinetuneProvenance.Validation(validation.uri(), before.windows(),
                    before.perplexity(), after.perplexity(), afterWithoutBranch);
            v = new FinetuneResult.Validation(before.perplexity(), after.perplexity(), afterWithoutBranch,
                    after.windows());
        }
        FinetuneProvenance provenance = new FinetuneProvenance("sparseft finetune", context.invocation(), modelPath,
                contentHash, m.name(), pattern.structure(), pattern.ratio(), owl, m.settings(trained), trainedOn,
                validated);
        progress.step("writing " + out);
        SparsityFile<FinetuneProvenance> written = SparseExport.write(storage, modelPath, out,
                org.sparseft.sparsity.PrunedWeights.of(export.masks(), updated), pattern.structure(), provenance,
                List.of(), spec.exportMetadata(), export.extraFiles(), spec.force());
        return new FinetuneResult(modelPath, cfg.modelType(), base.count(), spec.method(), pattern.label(),
                start.summary(), summary.firstStep(), steps, summary.finalLoss(), summary.seconds(), v,
                written.globalSparsity(), export.masks().size(), run, out, written);
    }

    /**
     * OWL's block sparsities for PST (docs/algorithms.md §3.6): {@code owl-nsamples} training sequences, drawn with the
     * training seed, through the dense model.
     */
    private static OutlierWeighting.Plan outlierPlan(FinetuneSpec spec, JobContext context, DataInput.Blocks blocks,
                                                     String modelPath, String contentHash, DecoderModel dense,
                                                     int partitions) throws IOException {
        Progress progress = context.progress();
        int n = (int) Math.min(spec.owlNsamples(), blocks.count());
        TrainingShards sample = TrainingShards.of(blocks.sample(n, spec.training().seed()), Math.min(partitions, n));
        long start = System.nanoTime();
        OutlierWeighting.Allocation a;
        try {
            a = LayerwisePruner.outlierAllocation(JavaSparkContext.fromSparkContext(context.spark().sparkContext()),
                    sample.rdd(), context.storage(), modelPath, contentHash, spec.owl(), spec.target().ratio(), null, 8,
                    new LayerwisePruner.Listener() {
                        @Override
                        public void onBlock(int block, int blocks, LayerwisePruner.BlockTiming timing) {
                        }

                        @Override
                        public void onOutliers(int block, int total, double outlierRatio) {
                            progress.step(String.format(Locale.ROOT, "OWL, dense pass over %d sequences: block %d/%d"
                                    + " has %.3f%% outlier scores", n, block + 1, total, 100 * outlierRatio));
                        }
                    });
        } finally {
            sample.unpersist();
        }
        StringBuilder plan = new StringBuilder();
        for (double s : a.sparsities()) {
            plan.append(String.format(Locale.ROOT, " %.4f", s));
        }
        progress.step("OWL block sparsities" + plan);
        return OutlierWeighting.Plan.of(a, (System.nanoTime() - start) / 1e9);
    }

    /** The input checkpoint, checked against the target (and SLoRB's groups) before it is loaded. */
    private record Input(String contentHash, Parameters base, Map<String, DType> storedTypes) {
    }

    private static Input load(Storage storage, String modelPath, SparsityPattern pattern, int slorbGroup,
                              Progress progress) throws IOException {
        try (HfCheckpoint c = HfCheckpoint.open(storage, modelPath)) {
            c.validateAgainstConfig();
            SlorbBranch.refuseAsInput(storage, modelPath);
            Map<String, long[]> shapes = Parameters.computeShapes(c.model());
            for (String w : c.model().prunableWeights()) {
                pattern.checkFits(w, shapes.get(w)[1]);
                if (slorbGroup > 0) {
                    Slorb.checkFits(w, shapes.get(w)[1], slorbGroup);
                }
            }
            progress.step("loading " + modelPath);
            return new Input(c.contentHash(), c.parameters(DataType.FLOAT), c.dtypesByCanonicalName());
        }
    }
}
