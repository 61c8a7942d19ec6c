package org.sparseft.jobs;

import org.sparseft.jobs.service.Progress;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.BadInputException;
import org.sparseft.ast.AstOptions;
import org.sparseft.ast.Distillation;
import org.sparseft.ast.Slorb;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.driver.train.TrainingRun;
import org.sparseft.driver.train.TrainingShards;
import org.sparseft.driver.train.TrainingState;
import org.sparseft.eval.Perplexity;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.hf.SlorbBranch;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.TensorCodec;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.Parameters;
import org.sparseft.pst.PstOptions;
import org.sparseft.sparsity.SparseExport;
import org.sparseft.sparsity.SparsityPattern;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code sparseft finetune}: sparse fine-tuning of an HF checkpoint on Spark, exported as a sparse HF checkpoint. */
@Command(name = "finetune", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = {"Sparse fine-tuning on Spark.",
                "--method pst: the model stays frozen; per prunable linear, a low-rank importance A·B plus row and"
                + " column vectors R, C (and a low-rank weight update U·V) are trained, the mask keeps the highest"
                + " |W + U·V| + A·B + R + C at the scheduled sparsity, and only those small tensors travel each step.",
                "--method ast: every weight trains under N:M masks (--pattern) re-selected by magnitude every"
                + " --ast-reselect-every steps; pruned weights are decayed towards zero instead of cut, and the loss"
                + " distils the input model's logits (the teacher runs beside the student on each executor).",
                "The output is the input's layout with the sparse weights in place, masks.safetensors and"
                + " sparsity.json, like prune's."})
public final class FinetuneCommand implements Callable<Integer>, MethodOptions.Owner {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The checkpoint to fine-tune.")
    String model;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output checkpoint directory.")
    String out;

    @Option(names = "--force", description = "Replace an existing --out and, without --resume, discard an earlier"
            + " run's checkpoints in --run.")
    boolean force;

    @Option(names = "--method", required = true, paramLabel = "pst|ast", description = "pst or ast.")
    String method;

    @ArgGroup(exclusive = true, multiplicity = "1", heading = "Sparsity, one of:%n")
    PruneCommand.Target target = new PruneCommand.Target();

    @CommandLine.Mixin
    InputOptions input;

    @Option(names = "--validation", paramLabel = "URI", description = "Validation text (or tokens) for perplexity"
            + " before, during and after.")
    String validation;

    @Option(names = "--tokenizer", paramLabel = "byte|DIR", description = "Tokenizer for --data (default: the"
            + " model's).")
    String tokenizer;

    @CommandLine.Mixin
    TrainingOptions training;

    @Option(names = "--pst-weight-rank", defaultValue = "8", description = "Rank of the weight update U·V (0: none).")
    int weightRank;

    @Option(names = "--pst-mask-rank", defaultValue = "8", description = "Rank of the importance term A·B.")
    int maskRank;

    @Option(names = "--pst-alpha1", defaultValue = "1", description = "Weight of A·B in the importance.")
    double alpha1;

    @Option(names = "--pst-alpha2", defaultValue = "1", description = "Weight of the row/column vectors.")
    double alpha2;

    @Option(names = "--pst-beta", defaultValue = "1", description = "Scale of the weight update U·V.")
    double beta;

    @Option(names = "--pst-initial-warmup", defaultValue = "0.1", description = "Fraction of steps at sparsity 0.")
    double initialWarmup;

    @Option(names = "--pst-final-warmup", defaultValue = "0.3", description = "Fraction of steps at the target.")
    double finalWarmup;

    @Option(names = "--ast-reselect-every", defaultValue = "10", paramLabel = "K",
            description = "Steps between magnitude re-selections of the N:M masks (0: keep the initial masks).")
    int reselectEvery;

    @Option(names = "--ast-decay", defaultValue = "6e-5", paramLabel = "LAMBDA",
            description = "λ_max of the decay λ(t)·(1 − M) ⊙ W added to pruned weights' gradients.")
    double decay;

    @Option(names = "--ast-decay-ramp", defaultValue = "0.25", paramLabel = "F",
            description = "Fraction of the steps over which λ rises linearly from 0 to λ_max.")
    double decayRamp;

    @Option(names = "--ast-temperature", defaultValue = "2", description = "Distillation temperature τ.")
    double temperature;

    @Option(names = "--ast-task-weight", defaultValue = "0.33", description = "Weight of the next-token loss.")
    double taskWeight;

    @Option(names = "--ast-kl-weight", defaultValue = "0.67", description = "Weight of the τ²-scaled KL to the"
            + " teacher (0: no teacher).")
    double klWeight;

    @Option(names = "--ast-slorb-group", defaultValue = "0", paramLabel = "K", description = "SLoRB group size"
            + " (the reference uses 16; 0: no SLoRB). With SLoRB the low-rank branch is written to"
            + " slorb.safetensors beside the exactly N:M checkpoint; sparseft evaluate applies it.")
    int slorbGroup;

    @CommandLine.Mixin
    SparkOptions sparkOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The method the options describe, its settings validated. */
    FinetuneMethod method(SparsityPattern pattern) {
        return switch (method.toLowerCase(Locale.ROOT)) {
            case "pst" -> new PstFinetune(new PstOptions(pattern, weightRank, maskRank, alpha1, alpha2, beta,
                    initialWarmup, finalWarmup));
            case "ast" -> {
                if (!(pattern instanceof SparsityPattern.NOutOfM nm)) {
                    throw new BadInputException("--method ast selects N:M masks: give --pattern N:M (2:4 in the"
                            + " paper), not --sparsity");
                }
                yield new AstFinetune(new AstOptions(nm, reselectEvery, decay, decayRamp,
                        new Distillation(temperature, taskWeight, klWeight), slorbGroup));
            }
            default -> throw new BadInputException("--method " + method + ": expected pst or ast");
        };
    }

    @Override
    public String methodName() {
        return method;
    }

    @Override
    public List<String> methods() {
        return List.of("pst", "ast");
    }

    @Override
    public List<String> methodsWithOptions() {
        return methods();
    }

    @Override
    public Integer call() throws Exception {
        SparsityPattern pattern = target.pattern();
        FinetuneMethod m = method(pattern);
        MethodOptions.refuseForeign(spec.commandLine().getParseResult(), this);
        training.validate(m.defaults());
        DataParallelTrainer.Options options = training.trainer(m.defaults());
        Progress progress = new Progress(spec.commandLine().getErr());
        progress.step("starting Spark");
        SparkSession spark = sparkOptions.session("sparseft finetune");
        try {
            Storage storage = SparkSessions.storage(spark);
            Outputs.refuseOverlap(storage, "--out", out, "--model", model);
            Outputs.check(storage, "--out", out, force);
            String modelPath = storage.qualify(model);
            String run = training.run(storage, out);
            Outputs.checkWritable(storage, "--run", run);
            String contentHash;
            Parameters base;
            Map<String, DType> storedTypes;
            try (HfCheckpoint c = HfCheckpoint.open(storage, modelPath)) {
                c.validateAgainstConfig();
                SlorbBranch.refuseAsInput(storage, modelPath);
                Map<String, long[]> shapes = Parameters.computeShapes(c.model());
                for (String w : c.model().prunableWeights()) {
                    pattern.checkFits(w, shapes.get(w)[1]);
                    if (slorbGroup > 0 && m instanceof AstFinetune) {
                        Slorb.checkFits(w, shapes.get(w)[1], slorbGroup);
                    }
                }
                progress.step("loading " + modelPath);
                contentHash = c.contentHash();
                storedTypes = c.dtypesByCanonicalName();
                base = Parameters.load(c, DataType.FLOAT);
            }
            DecoderModel dense = DecoderModel.of(base);
            var cfg = base.config();
            int seqLen = training.seqLen;
            if (seqLen > cfg.maxPositions()) {
                throw new BadInputException("--seqlen " + seqLen + " exceeds the model's " + cfg.maxPositions()
                        + " positions");
            }
            String tokSpec = input.tokenizerFor(storage, tokenizer, model, modelPath);
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            int p = training.partitions(jsc);
            options.share(p);
            new org.sparseft.driver.train.CheckpointStore(storage, run, training.keep);
            InputOptions.Blocks blocks = input.blocks(spark, tokSpec, cfg.vocabSize(), seqLen, progress);
            TrainingShards shards = TrainingShards.of(blocks.blocks(), p);
            blocks.blocks().unpersist(false);
            List<int[]> windows = List.of();
            if (validation != null) {
                InputOptions v = validation.endsWith(".safetensors") ? InputOptions.tokens(validation)
                        : InputOptions.text(validation);
                InputOptions.Blocks vb = v.blocks(spark, v.tokenizerFor(storage, tokenizer, model, modelPath),
                        cfg.vocabSize(), seqLen, progress);
                windows = vb.blocks().take(training.evalWindows);
                vb.blocks().unpersist(false);
            }
            List<int[]> val = windows;
            int steps = training.steps;
            Perplexity.Result before = val.isEmpty() ? null
                    : Perplexity.of(Perplexity.windowNlls(dense, val, training.batch, EffectiveWeights.DENSE), seqLen);
            if (before != null) {
                progress.step(String.format("validation perplexity before: %.3f (dense)", before.perplexity()));
            }
            FinetuneMethod.Training start = m.start(dense, modelPath, contentHash, steps, training.seed);
            Parameters trained = start.trained();
            Map<String, String> identity = new LinkedHashMap<>(TrainingState.identity("method", m.name(), "model",
                    contentHash, "target", pattern.structure() + "@" + pattern.ratio(), "data", shards.fingerprint(),
                    "blocks", shards.blocks()));
            identity.putAll(m.identity());
            identity.putAll(TrainingState.identity(training.identity(m.defaults(), p)));
            DataParallelTrainer.Summary summary;
            try (TrainingRun trainingRun = TrainingRun.open(storage, run, training.keep, training.resume, force,
                    identity, trained, training.adam(m.defaults()), start.objective())) {
                trainingRun.resumedFrom().ifPresent(c -> progress.step("resuming from " + c + " (step "
                        + trainingRun.startStep() + ")"));
                progress.step(String.format("%s on %s: %s; steps %d..%d of %d x %d tokens in %d partitions, target"
                                + " %s; run directory %s", m.name().toUpperCase(Locale.ROOT), cfg.modelType(),
                        start.summary(), trainingRun.startStep() + 1, steps, training.batch, seqLen, p,
                        pattern.label(), run));
                TrainingProgress listener = new TrainingProgress(progress, training, trainingRun, val.isEmpty() ? null
                        : (done, current) -> {
                            FinetuneMethod.View view = m.at(dense, current, done, steps);
                            return Perplexity.of(Perplexity.windowNlls(view.model(), val, training.batch,
                                    view.weights()), seqLen);
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
            Perplexity.Result after = null;
            Perplexity.Result withoutBranch = null;
            if (!val.isEmpty()) { // of the model as exported, with the extra branch when there is one
                after = Perplexity.of(Perplexity.windowNlls(exported, val, training.batch, (name, stored) -> {
                    INDArray b = export.branch().get(name);
                    return b == null ? stored : stored.add(b);
                }), seqLen);
                if (!export.branch().isEmpty()) {
                    withoutBranch = Perplexity.of(Perplexity.windowNlls(exported, val, training.batch,
                            EffectiveWeights.DENSE), seqLen);
                }
            }
            ObjectNode sparsity = HfConfig.JSON.createObjectNode();
            sparsity.put("producer", "sparseft finetune");
            sparsity.put("command", "sparseft " + String.join(" ", spec.commandLine().getParseResult()
                    .originalArgs()));
            sparsity.put("model", modelPath);
            sparsity.put("model_content_sha256", contentHash);
            sparsity.put("method", m.name());
            sparsity.put("structure", pattern.structure());
            sparsity.put("target_sparsity", pattern.ratio());
            m.describe(sparsity, trained);
            ObjectNode t = sparsity.putObject("training");
            t.put("data", input.uri()).put("data_fingerprint", shards.fingerprint()).put("steps", steps)
                    .put("batch", training.batch).put("seqlen", seqLen).put("partitions", p)
                    .put("sync", training.syncMode(m.defaults()).name().toLowerCase(Locale.ROOT)).put("run", run)
                    .put("resumed_at_step", summary.firstStep())
                    .put("final_train_loss", summary.finalLoss()).put("seconds", summary.seconds());
            if (before != null) {
                ObjectNode v = sparsity.putObject("validation").put("source", validation)
                        .put("windows", before.windows()).put("perplexity_before", before.perplexity())
                        .put("perplexity_after", after.perplexity());
                if (withoutBranch != null) {
                    v.put("perplexity_after_without_slorb", withoutBranch.perplexity());
                }
            }
            progress.step("writing " + out);
            ObjectNode written = SparseExport.write(storage, modelPath, out, export.masks(), updated,
                    pattern.structure(), sparsity, List.of(), export.extraFiles(), force);
            PrintWriter w = spec.commandLine().getOut();
            w.printf("model      %s (%s), %,d parameters%n", modelPath, cfg.modelType(), base.count());
            w.printf("method     %s, %s, %s%n", m.name(), pattern.label(), start.summary());
            w.printf("trained    steps %d..%d, final train loss %.4f, %.0f s%n", summary.firstStep() + 1, steps,
                    summary.finalLoss(), summary.seconds());
            if (before != null) {
                w.printf("validation perplexity %.3f before (dense), %.3f after over %d windows%s%n",
                        before.perplexity(), after.perplexity(), after.windows(), withoutBranch == null ? ""
                                : String.format(" (%.3f without the SLoRB branch)", withoutBranch.perplexity()));
            }
            w.printf("sparsity   %.4f over %d linears%n", written.get("global_sparsity").asDouble(),
                    export.masks().size());
            w.printf("wrote      %s%n", out);
            w.flush();
            return Main.OK;
        } finally {
            SparkSessions.stop(spark);
        }
    }
}
