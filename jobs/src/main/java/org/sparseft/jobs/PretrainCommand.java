package org.sparseft.jobs;

import org.sparseft.jobs.service.Progress;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.BadInputException;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.driver.train.TrainingRun;
import org.sparseft.driver.train.TrainingShards;
import org.sparseft.driver.train.TrainingState;
import org.apache.spark.api.java.JavaSparkContext;
import org.sparseft.eval.Perplexity;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.tokenizer.Tokenizer;
import org.sparseft.io.tokenizer.Tokenizers;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.train.AdamW;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code sparseft pretrain}: trains the architecture of an HF config.json from scratch, or on from a checkpoint's
 * weights ({@code --init}: the dense baseline beside sparse fine-tuning), and saves an HF checkpoint.
 */
@Command(name = "pretrain", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = {"Train a GPT-2 or LLaMA-family model from scratch: the architecture comes from a Hugging Face "
                + "config.json, the data is tokenized and cut into blocks on Spark, and the result is a Hugging Face "
                + "checkpoint directory (config.json, model.safetensors, tokenizer.json, training.json).",
                "Training is data-parallel on Spark: every partition takes an equal share of each step's batch; "
                + "gradients are summed in partition order every step (--sync grad) or parameters averaged every "
                + "--every steps (--sync average). Checkpoints and metrics.jsonl go to --run; --resume continues "
                + "from the newest checkpoint with the same final weights as an uninterrupted run."})
public final class PretrainCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "FILE", description = "A Hugging Face config.json.")
    String config;

    @Option(names = "--init", paramLabel = "DIR", description = "Start from this Hugging Face checkpoint's weights"
            + " instead of a random initialisation (continued training); its architecture must be --config's.")
    String init;

    @CommandLine.Mixin
    InputOptions input;

    @Option(names = "--validation", paramLabel = "URI", description = "Validation text (or tokens, .safetensors) for"
            + " perplexity.")
    String validation;

    @Option(names = "--tokenizer", defaultValue = Tokenizers.BYTE, paramLabel = "byte|DIR", description = "Tokenizer.")
    String tokenizer;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output model directory.")
    String out;

    @Option(names = "--force", description = "Replace an existing output directory and, without --resume, discard"
            + " an earlier run's checkpoints in --run.")
    boolean force;

    @CommandLine.Mixin
    TrainingOptions training;

    /** Pretraining's defaults: the demo model was trained with them. */
    static final TrainingOptions.Defaults DEFAULTS = new TrainingOptions.Defaults(1e-3, 100, 0.1, 0.95,
            DataParallelTrainer.Sync.GRAD);

    @Option(names = "--dtype", defaultValue = "f32", description = "Saved weight type: f32, bf16 or f16.")
    String dtype;

    @CommandLine.Mixin
    SparkOptions sparkOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        DType saveAs = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32" -> DType.F32;
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            default -> throw new BadInputException("--dtype " + dtype + ": expected f32, bf16 or f16");
        };
        training.validate(DEFAULTS);
        DataParallelTrainer.Sync syncMode = training.syncMode(DEFAULTS);
        AdamW.Options adam = training.adam(DEFAULTS);
        DataParallelTrainer.Options options = training.trainer(DEFAULTS);
        int steps = training.steps;
        int batch = training.batch;
        int seqLen = training.seqLen;
        Progress progress = new Progress(spec.commandLine().getErr());
        progress.step("starting Spark");
        SparkSession spark = sparkOptions.session("sparseft pretrain");
        try {
            Storage storage = SparkSessions.storage(spark);
            Outputs.check(storage, "--out", out, force);
            String run = training.run(storage, out);
            Outputs.checkWritable(storage, "--run", run);
            if (!storage.exists(config)) {
                throw BadInputException.at(config, "config file does not exist");
            }
            byte[] configBytes = storage.readAllBytes(config);
            HfConfig hf = HfConfig.parse(new String(configBytes, StandardCharsets.UTF_8), config);
            ModelConfig cfg = hf.model();
            if (seqLen > cfg.maxPositions()) {
                throw new BadInputException("--seqlen " + seqLen + " exceeds the config's " + cfg.maxPositions()
                        + " positions");
            }
            String tokSpec = Tokenizers.qualify(storage, tokenizer); // tasks resolve paths elsewhere than the driver
            Tokenizer tok = Tokenizers.load(storage, tokSpec);
            if (tok.vocabSize() > cfg.vocabSize()) {
                throw new BadInputException("tokenizer " + tokenizer + " has " + tok.vocabSize() + " tokens; "
                        + config + " field 'vocab_size' is " + cfg.vocabSize());
            }
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            int p = training.partitions(jsc);
            options.share(p); // an uneven split is refused before any data is read
            new org.sparseft.driver.train.CheckpointStore(storage, run, training.keep); // so is --keep below 1
            InputOptions.Blocks blocks = input.blocks(spark, tokSpec, cfg.vocabSize(), seqLen, progress);
            TrainingShards shards = TrainingShards.of(blocks.blocks(), p);
            blocks.blocks().unpersist(false);
            List<int[]> val = List.of();
            if (validation != null) {
                InputOptions source = validation.endsWith(".safetensors") ? InputOptions.tokens(validation)
                        : InputOptions.text(validation);
                InputOptions.Blocks v = source.blocks(spark, tokSpec, cfg.vocabSize(), seqLen, progress);
                val = v.blocks().take(training.evalWindows);
                v.blocks().unpersist(false); // only these windows are used
            }
            List<int[]> windows = val;
            Parameters params;
            String initHash = null;
            if (init == null) {
                params = Parameters.initialize(cfg, training.seed, DataType.FLOAT);
            } else {
                try (HfCheckpoint c = HfCheckpoint.open(storage, init)) {
                    c.validateAgainstConfig(); // its counts against its tensors, before anything is sized by them
                    if (!c.config().model().equals(cfg)) {
                        throw BadInputException.at(init, "--init's architecture " + c.config().model()
                                + " differs from --config's " + cfg);
                    }
                    initHash = c.contentHash();
                    params = Parameters.load(c, DataType.FLOAT);
                }
            }
            DecoderModel model = DecoderModel.of(params);
            Map<String, String> identity = new LinkedHashMap<>(TrainingState.identity("config_sha256",
                    sha256(configBytes), "tokenizer", tok.describe(), "data", shards.fingerprint(), "blocks",
                    shards.blocks()));
            if (initHash != null) {
                identity.put("init_content_sha256", initHash);
            }
            identity.putAll(TrainingState.identity(training.identity(DEFAULTS, p)));
            DataParallelTrainer.Summary summary;
            Perplexity.Result[] lastVal = {null};
            try (TrainingRun trainingRun = TrainingRun.open(storage, run, training.keep, training.resume, force,
                    identity, params, adam)) {
                trainingRun.resumedFrom().ifPresent(c -> progress.step("resuming from " + c + " (step "
                        + trainingRun.startStep() + ")"));
                long perStepBytes = 4L * params.count() * (syncMode == DataParallelTrainer.Sync.GRAD ? 1 + p : 3 + 3L * p);
                progress.step(String.format("training %s with %,d parameters: steps %d..%d of %d x %d tokens on %d"
                                + " blocks in %d partitions (%s sync%s); run directory %s", cfg.modelType(),
                        params.count(), trainingRun.startStep() + 1, steps, batch, seqLen, shards.blocks(), p,
                        syncMode.name().toLowerCase(Locale.ROOT), syncMode == DataParallelTrainer.Sync.AVERAGE ? " every "
                                + training.every
                                + " steps, " + TrainingOptions.mb(perStepBytes) + " per round" : ", "
                                + TrainingOptions.mb(perStepBytes) + " per step",
                        run));
                TrainingProgress listener = new TrainingProgress(progress, training, trainingRun, windows.isEmpty()
                        ? null : (done, current) -> Perplexity.of(Perplexity.windowNlls(model, windows, batch,
                        EffectiveWeights.DENSE), seqLen));
                summary = DataParallelTrainer.run(jsc, shards, params, options, trainingRun, listener);
                lastVal[0] = listener.last();
            } finally {
                shards.unpersist();
            }
            if (lastVal[0] == null && !windows.isEmpty()) { // resumed at the final checkpoint: nothing trained
                lastVal[0] = Perplexity.of(Perplexity.windowNlls(model, windows, batch, EffectiveWeights.DENSE), seqLen);
                progress.step(String.format("validation perplexity %.3f over %d windows", lastVal[0].perplexity(),
                        lastVal[0].windows()));
            }
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ObjectNode provenance = json.createObjectNode();
            provenance.put("command", "sparseft " + String.join(" ", spec.commandLine().getParseResult().originalArgs()));
            provenance.put("config", config);
            provenance.put("init", init);
            provenance.put("data", input.uri());
            provenance.put("validation", validation);
            provenance.put("tokenizer", tok.describe());
            provenance.put("parameters", params.count());
            provenance.put("steps", steps);
            provenance.put("partitions", p);
            provenance.put("sync", syncMode.name().toLowerCase(Locale.ROOT));
            provenance.put("run", run);
            provenance.put("resumed_at_step", summary.firstStep());
            provenance.put("tokens", (long) steps * batch * seqLen);
            provenance.put("seconds_this_invocation", summary.seconds());
            double finalLoss = Double.NaN;
            if (lastVal[0] != null) {
                provenance.put("validation_perplexity", lastVal[0].perplexity());
                provenance.put("validation_windows", lastVal[0].windows());
            }
            ArrayNode metrics = provenance.putArray("metrics");
            for (String line : new String(storage.readAllBytes(Storage.join(run, "metrics.jsonl")),
                    StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank()) {
                    var m = json.readTree(line);
                    metrics.add(m);
                    if (m.has("loss")) {
                        finalLoss = m.get("loss").asDouble(); // also right when a resume had nothing left to do
                    }
                }
            }
            provenance.put("final_train_loss", finalLoss);
            Map<String, byte[]> extra = new LinkedHashMap<>(tok.files());
            extra.put("training.json", json.writeValueAsBytes(provenance));
            var cfgJson = hf.json();
            cfgJson.put("torch_dtype", saveAs == DType.F32 ? "float32" : saveAs == DType.BF16 ? "bfloat16" : "float16");
            HfCheckpointWriter.write(storage, out, new HfConfig(cfg, cfgJson, config), params.toEntries(saveAs),
                    Map.of("producer", "sparseft pretrain"), extra, 0, force);
            PrintWriter w = spec.commandLine().getOut();
            w.printf("model       %s, %,d parameters%n", cfg.modelType(), params.count());
            long tokens = (long) (steps - summary.firstStep()) * batch * seqLen;
            if (tokens > 0) {
                w.printf("trained     steps %d..%d, %,d tokens in %.0f s (%.0f tok/s) on %d partitions%n",
                        summary.firstStep() + 1, steps, tokens, summary.seconds(), tokens / summary.seconds(), p);
            } else {
                w.printf("trained     nothing left: resumed at the final checkpoint (step %d)%n", steps);
            }
            w.printf("train loss  %.4f%n", finalLoss);
            if (lastVal[0] != null) {
                w.printf("validation  perplexity %.3f over %d windows of %d%n", lastVal[0].perplexity(),
                        lastVal[0].windows(), seqLen);
            }
            w.printf("run         %s%n", run);
            w.printf("wrote       %s%n", out);
            w.flush();
            return Main.OK;
        } finally {
            SparkSessions.stop(spark);
        }
    }

    private static String sha256(byte[] bytes) throws java.security.NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
