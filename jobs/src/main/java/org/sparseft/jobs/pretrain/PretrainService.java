package org.sparseft.jobs.pretrain;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.spark.api.java.JavaSparkContext;
import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.BadInputException;
import org.sparseft.InvalidSettingException;
import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.driver.train.MetricsLines;
import org.sparseft.driver.train.TrainingRun;
import org.sparseft.driver.train.TrainingShards;
import org.sparseft.driver.train.TrainingState;
import org.sparseft.eval.Perplexity;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.tokenizer.Tokenizer;
import org.sparseft.io.tokenizer.Tokenizers;
import org.sparseft.jobs.service.DataInput;
import org.sparseft.jobs.service.JobContext;
import org.sparseft.jobs.service.Outputs;
import org.sparseft.jobs.service.Progress;
import org.sparseft.jobs.training.TrainingProgress;
import org.sparseft.jobs.training.TrainingSettings;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Runs a {@link PretrainSpec}: the data is tokenized and cut into blocks on Spark, the model trains data-parallel
 * (gradients summed in partition order every step, or parameters averaged every {@code every} steps) with
 * checkpoints and {@code metrics.jsonl} in the run directory, resumable with the same final weights as an
 * uninterrupted run, and the result is a Hugging Face checkpoint directory (config.json, model.safetensors,
 * tokenizer.json, training.json).
 */
public final class PretrainService {
    private PretrainService() {
    }

    /**
     * Runs {@code spec} on the context's session (which it neither starts nor stops); returns what was trained,
     * measured and written.
     */
    public static PretrainResult run(PretrainSpec spec, JobContext context) throws Exception {
        Storage storage = context.storage();
        Progress progress = context.progress();
        TrainingSettings training = spec.training();
        DataParallelTrainer.Sync syncMode = training.sync();
        DataParallelTrainer.Options options = training.trainer();
        int steps = training.steps();
        int batch = training.batch();
        int seqLen = training.seqlen();
        String out = spec.out();
        String config = spec.config();
        String init = spec.init();
        Outputs.check(storage, "out", out, spec.force());
        String run = training.runDirectory(storage, out);
        Outputs.checkWritable(storage, "run", run);
        if (!storage.exists(config)) {
            throw BadInputException.at(config, "config file does not exist");
        }
        byte[] configBytes = storage.readAllBytes(config);
        HfConfig hf = HfConfig.parse(new String(configBytes, StandardCharsets.UTF_8), config);
        ModelConfig cfg = hf.model();
        if (seqLen > cfg.maxPositions()) {
            throw new InvalidSettingException("{seqlen} " + seqLen + " exceeds the config's " + cfg.maxPositions()
                    + " positions");
        }
        String tokSpec = Tokenizers.qualify(storage, spec.tokenizer()); // tasks resolve paths elsewhere than here
        Tokenizer tok = Tokenizers.load(storage, tokSpec);
        if (tok.vocabSize() > cfg.vocabSize()) {
            throw new BadInputException("tokenizer " + spec.tokenizer() + " has " + tok.vocabSize() + " tokens; "
                    + config + " field 'vocab_size' is " + cfg.vocabSize());
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(context.spark().sparkContext());
        int p = training.partitions(jsc);
        training.share(p); // an uneven split is refused before any data is read
        DataInput input = spec.data();
        DataInput.Blocks blocks = input.blocks(context.spark(), tokSpec, cfg.vocabSize(), seqLen, progress);
        TrainingShards shards = TrainingShards.of(blocks.blocks(), p);
        blocks.blocks().unpersist(false);
        List<int[]> windows = spec.validation() == null ? List.of() : spec.validation().firstBlocks(context.spark(),
                tokSpec, cfg.vocabSize(), seqLen, training.evalWindows(), progress);
        Start start = start(spec, storage, cfg);
        Parameters params = start.params();
        String initHash = start.initHash();
        DecoderModel model = DecoderModel.of(params);
        Map<String, String> identity = new LinkedHashMap<>(TrainingState.identity("config_sha256",
                sha256(configBytes), "tokenizer", tok.describe(), "data", shards.fingerprint(), "blocks",
                shards.blocks()));
        if (initHash != null) {
            identity.put("init_content_sha256", initHash);
        }
        identity.putAll(TrainingState.identity(training.identity(p)));
        DataParallelTrainer.Summary summary;
        Perplexity.Result lastVal;
        DataParallelTrainer.checkSettings(jsc, params.spec(), p, options); // before the run directory is made
        try (TrainingRun trainingRun = TrainingRun.open(storage, run, training.keep(), training.resume(),
                spec.force(), identity, params, training.adam())) {
            trainingRun.resumedFrom().ifPresent(c -> progress.step("resuming from " + c + " (step "
                    + trainingRun.startStep() + ")"));
            progress.step(String.format("training %s with %,d parameters: steps %d..%d of %d x %d tokens on %d"
                            + " blocks in %d partitions (%s); run directory %s", cfg.modelType(), params.count(),
                    trainingRun.startStep() + 1, steps, batch, seqLen, shards.blocks(), p,
                    TrainingProgress.syncTraffic(training, params.count(), p), run));
            TrainingProgress listener = new TrainingProgress(progress, training, trainingRun, windows.isEmpty()
                    ? null : (done, current) -> Perplexity.of(Perplexity.windowNlls(model, windows, batch,
                    EffectiveWeights.DENSE), seqLen));
            summary = DataParallelTrainer.run(jsc, shards, params, options, trainingRun, listener);
            lastVal = listener.last();
        } finally {
            shards.unpersist();
        }
        if (lastVal == null && !windows.isEmpty()) { // resumed at the final checkpoint: nothing trained
            lastVal = Perplexity.of(Perplexity.windowNlls(model, windows, batch, EffectiveWeights.DENSE), seqLen);
            progress.step(String.format("validation perplexity %.3f over %d windows", lastVal.perplexity(),
                    lastVal.windows()));
        }
        String metricsFile = Storage.join(run, "metrics.jsonl");
        List<JsonNode> metrics = MetricsLines.parse(new String(storage.readAllBytes(metricsFile),
                StandardCharsets.UTF_8), metricsFile);
        double finalLoss = Double.NaN; // the last logged step's, also when a resume had nothing left to do
        for (JsonNode m : metrics) {
            if (m.has("loss")) {
                finalLoss = m.get("loss").asDouble();
            }
        }
        TrainingFile provenance = new TrainingFile(context.invocation(), config, init, input.uri(),
                spec.validation() == null ? null : spec.validation().uri(), tok.describe(), params.count(), steps, p,
                syncMode.name().toLowerCase(Locale.ROOT), run, summary.firstStep(), (long) steps * batch * seqLen,
                summary.seconds(), lastVal == null ? null : lastVal.perplexity(),
                lastVal == null ? null : lastVal.windows(), metrics, finalLoss);
        Map<String, byte[]> extra = new LinkedHashMap<>(tok.files());
        extra.put("training.json", Json.PRETTY.writeValueAsBytes(provenance));
        var cfgJson = hf.json();
        cfgJson.put("torch_dtype", spec.dtype().torchName());
        HfCheckpointWriter.write(storage, out, new HfConfig(cfg, cfgJson, config),
                params.toEntries(spec.dtype().stored()), Map.of("producer", "sparseft pretrain"), extra,
                HfCheckpointWriter.HUB_SHARD_BYTES,
                spec.force());
        long tokens = (long) (steps - summary.firstStep()) * batch * seqLen;
        return new PretrainResult(cfg.modelType(), params.count(), summary.firstStep(), steps, tokens,
                summary.seconds(), p, finalLoss, lastVal == null ? null
                : new PretrainResult.Validation(lastVal.perplexity(), lastVal.windows()), seqLen, run, out,
                provenance);
    }

    /** Where training starts: seeded initial weights, or {@code init}'s (with its content hash). */
    private record Start(Parameters params, String initHash) {
    }

    private static Start start(PretrainSpec spec, Storage storage, ModelConfig cfg) throws IOException {
        if (spec.init() == null) {
            return new Start(Parameters.initialize(cfg, spec.training().seed(), DataType.FLOAT), null);
        }
        try (HfCheckpoint c = HfCheckpoint.open(storage, spec.init())) {
            c.validateAgainstConfig(); // its counts against its tensors, before anything is sized by them
            if (!c.config().model().equals(cfg)) {
                throw new InvalidSettingException(spec.init() + ": {init}'s architecture " + c.config().model()
                        + " differs from {config}'s " + cfg);
            }
            return new Start(c.parameters(DataType.FLOAT), c.contentHash());
        }
    }


    private static String sha256(byte[] bytes) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
