package org.sparseft.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.BadInputException;
import org.sparseft.driver.SparkSessions;
import org.sparseft.eval.Perplexity;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.tokenizer.Tokenizer;
import org.sparseft.io.tokenizer.Tokenizers;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.train.AdamW;
import org.sparseft.train.LearningRateSchedule;
import org.sparseft.train.TrainStep;
import org.sparseft.train.Trainer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code sparseft pretrain}: trains the architecture of an HF config.json from scratch and saves an HF checkpoint. */
@Command(name = "pretrain", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = {"Train a GPT-2 or LLaMA-family model from scratch: the architecture comes from a Hugging Face "
                + "config.json, the data is tokenized and cut into blocks on Spark, and the result is a Hugging Face "
                + "checkpoint directory (config.json, model.safetensors, tokenizer.json, training.json).",
                "Training runs in the driver JVM for now (AdamW, warmup + cosine decay, clipping)."})
public final class PretrainCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "FILE", description = "A Hugging Face config.json.")
    String config;

    @CommandLine.Mixin
    InputOptions input;

    @Option(names = "--validation", paramLabel = "URI", description = "Validation text for perplexity.")
    String validation;

    @Option(names = "--tokenizer", defaultValue = Tokenizers.BYTE, paramLabel = "byte|DIR", description = "Tokenizer.")
    String tokenizer;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output model directory.")
    String out;

    @Option(names = "--force", description = "Replace an existing output directory.")
    boolean force;

    @Option(names = "--steps", defaultValue = "1000", description = "Optimizer steps.")
    int steps;

    @Option(names = "--batch", defaultValue = "8", description = "Sequences per step.")
    int batch;

    @Option(names = "--seqlen", defaultValue = "256", description = "Tokens per sequence.")
    int seqLen;

    @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate.")
    double lr;

    @Option(names = "--warmup", defaultValue = "100", description = "Linear warmup steps.")
    int warmup;

    @Option(names = "--min-lr-ratio", defaultValue = "0.1", description = "Final learning rate as a fraction of the peak.")
    double minLrRatio;

    @Option(names = "--weight-decay", defaultValue = "0.1", description = "AdamW weight decay (matrices only).")
    double weightDecay;

    @Option(names = "--clip", defaultValue = "1.0", description = "Gradient clipping by global norm (0: off).")
    double clip;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of initialisation and data order.")
    long seed;

    @Option(names = "--eval-every", defaultValue = "200", description = "Validation every N steps (0: only at the end).")
    int evalEvery;

    @Option(names = "--eval-windows", defaultValue = "64", description = "Validation windows per evaluation.")
    int evalWindows;

    @Option(names = "--log-every", defaultValue = "10", description = "Progress line every N steps.")
    int logEvery;

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
        if (steps < 1 || batch < 1 || seqLen < 2 || warmup < 0 || !(lr > 0) || logEvery < 1) {
            throw new BadInputException("--steps, --batch, --log-every must be at least 1, --seqlen at least 2, --lr"
                    + " positive, --warmup non-negative");
        }
        Progress progress = new Progress(spec.commandLine().getErr());
        progress.step("starting Spark");
        SparkSession spark = sparkOptions.session("sparseft pretrain");
        try {
            Storage storage = SparkSessions.storage(spark);
            Outputs.refuseExisting(storage, "--out", out, force);
            if (!storage.exists(config)) {
                throw BadInputException.at(config, "config file does not exist");
            }
            HfConfig hf = HfConfig.parse(new String(storage.readAllBytes(config), StandardCharsets.UTF_8), config);
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
            List<int[]> train = input.blocks(spark, tokSpec, cfg.vocabSize(), seqLen, progress).blocks().collect();
            List<int[]> val = validation == null ? List.of()
                    : InputOptions.text(validation).blocks(spark, tokSpec, cfg.vocabSize(), seqLen, progress).blocks()
                    .collect();
            DecoderModel model = DecoderModel.of(Parameters.initialize(cfg, seed, DataType.FLOAT));
            progress.step(String.format("training %s with %,d parameters: %d steps of %d x %d tokens on %d blocks",
                    cfg.modelType(), model.parameters().count(), steps, batch, seqLen, train.size()));
            Trainer.Options options = new Trainer.Options(steps, batch, lr, warmup, LearningRateSchedule.Decay.COSINE,
                    minLrRatio, new AdamW.Options(0.9, 0.95, 1e-8, weightDecay), clip, seed, evalEvery, evalWindows);
            ArrayNode metrics = new ObjectMapper().createArrayNode();
            Trainer.Summary summary = Trainer.run(model, train, val, options, new Trainer.Listener() {
                @Override
                public void onStep(int step, TrainStep.Result r, double tokensPerSecond) {
                    metrics.addObject().put("step", step + 1).put("loss", r.loss()).put("lr", r.learningRate())
                            .put("grad_norm", r.gradNorm());
                    if ((step + 1) % logEvery == 0 || step == 0 || step + 1 == steps) {
                        double eta = progress.seconds() / (step + 1) * (steps - step - 1);
                        progress.step(String.format("step %d/%d loss %.4f lr %.2e |g| %.3f %.0f tok/s ETA %.0f s",
                                step + 1, steps, r.loss(), r.learningRate(), r.gradNorm(), tokensPerSecond, eta));
                    }
                }

                @Override
                public void onValidation(int step, Perplexity.Result r) {
                    metrics.addObject().put("step", step + 1).put("val_ppl", r.perplexity()).put("val_loss", r.meanNll());
                    progress.step(String.format("step %d validation perplexity %.3f over %d windows", step + 1,
                            r.perplexity(), r.windows()));
                }
            });
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ObjectNode provenance = json.createObjectNode();
            provenance.put("command", "sparseft " + String.join(" ", spec.commandLine().getParseResult().originalArgs()));
            provenance.put("config", config);
            provenance.put("data", input.uri());
            provenance.put("validation", validation);
            provenance.put("tokenizer", tok.describe());
            provenance.put("parameters", model.parameters().count());
            provenance.put("steps", steps);
            provenance.put("tokens", summary.tokens());
            provenance.put("seconds", summary.seconds());
            provenance.put("final_train_loss", summary.finalLoss());
            if (summary.validation() != null) {
                provenance.put("validation_perplexity", summary.validation().perplexity());
                provenance.put("validation_windows", summary.validation().windows());
            }
            provenance.set("metrics", metrics);
            Map<String, byte[]> extra = new LinkedHashMap<>(tok.files());
            extra.put("training.json", json.writeValueAsBytes(provenance));
            var cfgJson = hf.json();
            cfgJson.put("torch_dtype", saveAs == DType.F32 ? "float32" : saveAs == DType.BF16 ? "bfloat16" : "float16");
            HfCheckpointWriter.write(storage, out, new HfConfig(cfg, cfgJson, config), model.parameters().toEntries(saveAs),
                    Map.of("producer", "sparseft pretrain"), extra, 0, force);
            PrintWriter w = spec.commandLine().getOut();
            w.printf("model       %s, %,d parameters%n", cfg.modelType(), model.parameters().count());
            w.printf("trained     %d steps, %,d tokens in %.0f s (%.0f tok/s)%n", steps, summary.tokens(),
                    summary.seconds(), summary.tokens() / summary.seconds());
            w.printf("train loss  %.4f%n", summary.finalLoss());
            if (summary.validation() != null) {
                w.printf("validation  perplexity %.3f over %d windows of %d%n", summary.validation().perplexity(),
                        summary.validation().windows(), seqLen);
            }
            w.printf("wrote       %s%n", out);
            w.flush();
            return Main.OK;
        } finally {
            spark.stop();
        }
    }
}
