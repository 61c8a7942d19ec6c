package org.sparseft.jobs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.BadInputException;
import org.sparseft.driver.ExecutorModels;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.driver.train.TrainingRun;
import org.sparseft.driver.train.TrainingShards;
import org.sparseft.driver.train.TrainingState;
import org.sparseft.eval.Perplexity;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.TensorCodec;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.Parameters;
import org.sparseft.pst.PstModel;
import org.sparseft.pst.PstObjective;
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
        description = {"Sparse fine-tuning on Spark. --method pst: the model stays frozen; per prunable linear, a"
                + " low-rank importance A·B plus row and column vectors R, C (and a low-rank weight update U·V) are"
                + " trained, the mask keeps the highest |W + U·V| + A·B + R + C at the scheduled sparsity, and only"
                + " those small tensors travel each step. The output is the input's layout with M ⊙ (W + U·V) in"
                + " place of each pruned weight, masks.safetensors and sparsity.json, like prune's."})
public final class FinetuneCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The checkpoint to fine-tune.")
    String model;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output checkpoint directory.")
    String out;

    @Option(names = "--force", description = "Replace an existing --out and, without --resume, discard an earlier"
            + " run's checkpoints in --run.")
    boolean force;

    @Option(names = "--method", required = true, paramLabel = "pst|ast", description = "pst (ast: to come).")
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

    @CommandLine.Mixin
    SparkOptions sparkOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /**
     * PST's defaults here: AdamW without weight decay and β2 0.999 as the reference; lr 1e-3 with no warm-up and a
     * cosine decay to 10% suit the small models this service trains in its demo (the reference's GPT-2-medium
     * setting is lr 1e-4, a linear schedule with 500 warm-up steps and no clipping: pass --lr, --warmup, --clip 0).
     */
    static final TrainingOptions.Defaults PST = new TrainingOptions.Defaults(1e-3, 0, 0, 0.999);

    @Override
    public Integer call() throws Exception {
        if (!method.toLowerCase(Locale.ROOT).equals("pst")) {
            throw new BadInputException("--method " + method + (method.equalsIgnoreCase("ast")
                    ? ": not available yet; use pst" : ": expected pst or ast"));
        }
        SparsityPattern pattern = target.pattern();
        PstOptions pst = new PstOptions(pattern, weightRank, maskRank, alpha1, alpha2, beta, initialWarmup,
                finalWarmup);
        training.validate(PST);
        DataParallelTrainer.Options options = training.trainer(PST);
        Progress progress = new Progress(spec.commandLine().getErr());
        progress.step("starting Spark");
        SparkSession spark = sparkOptions.session("sparseft finetune");
        try {
            Storage storage = SparkSessions.storage(spark);
            Outputs.refuseExisting(storage, "--out", out, force);
            String modelPath = storage.qualify(model);
            String run = training.run(storage, out);
            String contentHash;
            Parameters base;
            Map<String, DType> storedTypes;
            try (HfCheckpoint c = HfCheckpoint.open(storage, modelPath)) {
                c.validateAgainstConfig();
                Map<String, long[]> shapes = Parameters.computeShapes(c.model());
                for (String w : c.model().prunableWeights()) {
                    pattern.checkFits(w, shapes.get(w)[1]);
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
            Parameters trained = PstModel.initialize(base, pst, training.seed);
            String path = modelPath;
            String hash = contentHash;
            PstObjective objective = new PstObjective(() -> ExecutorModels.get(path, hash), pst, steps);
            Map<String, String> identity = new LinkedHashMap<>(TrainingState.identity("method", "pst", "model",
                    contentHash, "target", pattern.structure() + "@" + pattern.ratio(), "pst", pst.toString(),
                    "data", shards.fingerprint(), "blocks", shards.blocks()));
            identity.putAll(TrainingState.identity(training.identity(PST, p)));
            double fraction = PstModel.trainableFraction(base, trained);
            DataParallelTrainer.Summary summary;
            TrainingProgress listener;
            try (TrainingRun trainingRun = TrainingRun.open(storage, run, training.keep, training.resume, force,
                    identity, trained, training.adam(PST))) {
                trainingRun.resumedFrom().ifPresent(c -> progress.step("resuming from " + c + " (step "
                        + trainingRun.startStep() + ")"));
                progress.step(String.format("PST on %s: %,d trained parameters (%.2f%% of %,d), steps %d..%d of %d x"
                                + " %d tokens in %d partitions, target %s; run directory %s", cfg.modelType(),
                        trained.count(), 100 * fraction, base.count(), trainingRun.startStep() + 1, steps,
                        training.batch, seqLen, p, pattern.structure().equals("unstructured") ? "sparsity "
                                + pattern.ratio() : pattern.structure(), run));
                listener = new TrainingProgress(progress, training, trainingRun, val.isEmpty() ? null
                        : (done, current) -> Perplexity.of(Perplexity.windowNlls(dense, val, training.batch,
                        PstModel.prepare(base, current, pst, pst.sparsityAt(done, steps)).weights()), seqLen));
                summary = DataParallelTrainer.run(jsc, shards, trained, objective, options, trainingRun, listener);
            } finally {
                shards.unpersist();
            }
            PstModel.Step last = PstModel.prepare(base, trained, pst, pst.sparsityAt(steps, steps));
            Map<String, INDArray> masks = new LinkedHashMap<>();
            Map<String, INDArray> updated = new LinkedHashMap<>(); // M ⊙ W' as the stored dtype holds it
            for (String w : cfg.prunableWeights()) {
                INDArray e = last.effective(w);
                masks.put(w, last.keep(w));
                updated.put(w, Nd4j.create(TensorCodec.roundTrip(e.dup('c').data().asFloat(), storedTypes.get(w)),
                        e.shape(), 'c'));
            }
            Perplexity.Result after = val.isEmpty() ? null // of the model as exported
                    : Perplexity.of(Perplexity.windowNlls(dense, val, training.batch,
                    (name, stored) -> updated.getOrDefault(name, stored)), seqLen);
            ObjectNode sparsity = HfConfig.JSON.createObjectNode();
            sparsity.put("producer", "sparseft finetune");
            sparsity.put("command", "sparseft " + String.join(" ", spec.commandLine().getParseResult()
                    .originalArgs()));
            sparsity.put("model", modelPath);
            sparsity.put("model_content_sha256", contentHash);
            sparsity.put("method", "pst");
            sparsity.put("structure", pattern.structure());
            sparsity.put("target_sparsity", pattern.ratio());
            sparsity.putObject("pst").put("weight_rank", weightRank).put("mask_rank", maskRank)
                    .put("alpha1", alpha1).put("alpha2", alpha2).put("beta", beta)
                    .put("initial_warmup", initialWarmup).put("final_warmup", finalWarmup)
                    .put("trained_parameters", trained.count()).put("trained_fraction", fraction);
            ObjectNode t = sparsity.putObject("training");
            t.put("data", input.uri()).put("data_fingerprint", shards.fingerprint()).put("steps", steps)
                    .put("batch", training.batch).put("seqlen", seqLen).put("partitions", p)
                    .put("sync", training.sync).put("run", run).put("resumed_at_step", summary.firstStep())
                    .put("final_train_loss", summary.finalLoss()).put("seconds", summary.seconds());
            if (before != null) {
                sparsity.putObject("validation").put("source", validation).put("windows", before.windows())
                        .put("perplexity_before", before.perplexity()).put("perplexity_after", after.perplexity());
            }
            progress.step("writing " + out);
            ObjectNode written = SparseExport.write(storage, modelPath, out, masks, updated, pattern.structure(),
                    sparsity, List.of(), force);
            PrintWriter w = spec.commandLine().getOut();
            w.printf("model      %s (%s), %,d parameters%n", modelPath, cfg.modelType(), base.count());
            w.printf("method     pst, %s, %,d trained parameters (%.2f%%)%n", pattern.structure().equals(
                    "unstructured") ? "unstructured " + pattern.ratio() : pattern.structure(), trained.count(),
                    100 * fraction);
            w.printf("trained    steps %d..%d, final train loss %.4f, %.0f s%n", summary.firstStep() + 1, steps,
                    summary.finalLoss(), summary.seconds());
            if (before != null) {
                w.printf("validation perplexity %.3f before (dense), %.3f after over %d windows%n",
                        before.perplexity(), after.perplexity(), after.windows());
            }
            w.printf("sparsity   %.4f over %d linears%n", written.get("global_sparsity").asDouble(), masks.size());
            w.printf("wrote      %s%n", out);
            w.flush();
            return Main.OK;
        } finally {
            spark.stop();
        }
    }
}
