package org.sparseft.jobs;

import org.sparseft.jobs.service.Progress;
import org.sparseft.jobs.service.SparkProgress;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.BadInputException;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.eval.DistributedPerplexity;
import org.sparseft.eval.Perplexity;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.io.safetensors.TensorCodec;
import org.sparseft.io.tokenizer.Tokenizer;
import org.sparseft.io.tokenizer.Tokenizers;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code sparseft evaluate}: perplexity of a Hugging Face checkpoint on text or tokens. */
@Command(name = "evaluate", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = {"Perplexity of a model on non-overlapping windows of --seqlen tokens (the Wanda/SparseGPT "
                + "protocol: each window's mean loss over its seqlen-1 predictions, PPL = exp of their mean). Windows "
                + "are spread over Spark executors, which load the model by path."})
public final class EvaluateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model directory (any Hadoop FS URI).")
    String model;

    @CommandLine.Mixin
    InputOptions input;

    @Option(names = "--tokenizer", paramLabel = "byte|DIR",
            description = "Tokenizer for --data. Default: the model directory's.")
    String tokenizer;

    @Option(names = "--seqlen", paramLabel = "T", description = "Window length. Default: the model's positions, at most 1024.")
    Integer seqLen;

    @Option(names = "--batch", defaultValue = "4", paramLabel = "B", description = "Windows per forward pass.")
    int batch;

    @Option(names = "--max-windows", paramLabel = "N", description = "Evaluate only the first N windows.")
    Integer maxWindows;

    @Option(names = "--out", paramLabel = "FILE", description = "Also write the result as JSON here.")
    String out;

    @Option(names = "--dump-logits", paramLabel = "FILE",
            description = "Write logits [N, T, V] (F32) and input_ids [N, T] of the first --dump-n windows to a"
                    + " safetensors file, to compare with other implementations.")
    String dumpLogits;

    @Option(names = "--dump-n", defaultValue = "2", paramLabel = "N", description = "Windows in --dump-logits.")
    int dumpN;

    @Option(names = "--unigram-from", paramLabel = "FILE",
            description = "Also report the unigram baseline: token frequencies fitted on this token file (e.g. the"
                    + " train split's), scored on the same windows.")
    String unigramFrom;

    @Option(names = "--force", description = "Replace existing --out and --dump-logits files.")
    boolean force;

    @CommandLine.Mixin
    SparkOptions sparkOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (batch < 1 || dumpN < 1 || (maxWindows != null && maxWindows < 1)) {
            throw new BadInputException("--batch, --dump-n and --max-windows must be at least 1");
        }
        Progress progress = new Progress(spec.commandLine().getErr());
        progress.step("starting Spark");
        SparkSession spark = sparkOptions.session("sparseft evaluate");
        try {
            Storage storage = SparkSessions.storage(spark);
            Outputs.checkFile(storage, "--out", out, force);
            Outputs.checkFile(storage, "--dump-logits", dumpLogits, force);
            Outputs.refuseOverlap(storage, "--out", out, "--model", model);
            Outputs.refuseOverlap(storage, "--dump-logits", dumpLogits, "--model", model);
            String modelPath = storage.qualify(model);
            ModelConfig cfg;
            String contentHash;
            try (HfCheckpoint c = HfCheckpoint.open(storage, modelPath)) {
                c.validateAgainstConfig();
                cfg = c.model();
                contentHash = c.contentHash();
            }
            int t = seqLen != null ? seqLen : Math.min(cfg.maxPositions(), 1024);
            if (t < 2 || t > cfg.maxPositions()) {
                throw new BadInputException("--seqlen " + t + ": expected 2.." + cfg.maxPositions()
                        + " (the model's positions)");
            }
            String tokSpec = input.tokenizerFor(storage, tokenizer, model, modelPath);
            Tokenizer tok = input.source.data != null ? Tokenizers.load(storage, tokSpec) : null;
            if (tok != null && tok.vocabSize() > cfg.vocabSize()) {
                throw new BadInputException("tokenizer " + tokSpec + " has " + tok.vocabSize()
                        + " tokens, more than the model's vocabulary of " + cfg.vocabSize());
            }
            InputOptions.Blocks blocks = input.blocks(spark, tokSpec, cfg.vocabSize(), t, progress);
            long limit = maxWindows == null ? Long.MAX_VALUE : maxWindows; // a local: the lambda must not capture this
            var windows = maxWindows == null ? blocks.blocks()
                    : blocks.blocks().zipWithIndex().filter(w -> w._2() < limit).map(w -> w._1());
            progress.step("evaluating " + Math.min(blocks.count(), maxWindows == null ? Long.MAX_VALUE : maxWindows)
                    + " windows of " + t + " tokens");
            long started = System.nanoTime();
            Perplexity.Result r;
            try (SparkProgress ignored = SparkProgress.of(spark, progress, "evaluating")) {
                r = DistributedPerplexity.evaluate(windows, modelPath, contentHash, batch, t);
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            Perplexity.Result unigram = null;
            if (unigramFrom != null) {
                progress.step("unigram baseline from " + unigramFrom);
                unigram = Perplexity.unigramBaseline(
                        org.sparseft.data.TokenFiles.read(storage, unigramFrom, cfg.vocabSize()), windows.collect(),
                        cfg.vocabSize());
            }
            if (dumpLogits != null) {
                progress.step("writing logits of " + dumpN + " windows to " + dumpLogits);
                dump(storage, modelPath, windows.take(dumpN), t);
            }
            blocks.blocks().unpersist(false);
            ObjectNode json = new ObjectMapper().createObjectNode();
            json.put("model", modelPath);
            json.put("data", input.uri());
            json.put("seqlen", t);
            json.put("windows", r.windows());
            json.put("tokens", (long) r.windows() * t);
            json.put("mean_nll", r.meanNll());
            json.put("perplexity", r.perplexity());
            json.put("seconds", seconds);
            json.put("tokens_per_second", r.windows() * (double) t / seconds);
            if (unigram != null) {
                json.put("unigram_from", unigramFrom);
                json.put("unigram_perplexity", unigram.perplexity());
            }
            if (out != null) {
                storage.writeAtomically(out, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                        .writeValueAsBytes(json));
            }
            PrintWriter w = spec.commandLine().getOut();
            w.printf("model       %s (%s, %,d parameters)%n", modelPath, cfg.modelType(), cfg.parameterCount());
            w.printf("windows     %d x %d tokens%n", r.windows(), t);
            w.printf("perplexity  %.4f (mean loss %.5f)%n", r.perplexity(), r.meanNll());
            if (unigram != null) {
                w.printf("unigram     perplexity %.4f (frequencies from %s)%n", unigram.perplexity(), unigramFrom);
            }
            w.printf("speed       %.0f tokens/s%n", r.windows() * (double) t / seconds);
            if (out != null) {
                w.printf("wrote       %s%n", out);
            }
            w.flush();
            return Main.OK;
        } finally {
            SparkSessions.stop(spark);
        }
    }

    /** The logits of the first windows, loaded and computed on the driver, as F32 [N, T, V] with their input ids. */
    private void dump(Storage storage, String modelPath, List<int[]> windows, int t) throws Exception {
        DecoderModel m;
        try (HfCheckpoint c = HfCheckpoint.open(storage, modelPath)) {
            m = DecoderModel.of(Parameters.load(c, DataType.FLOAT));
        }
        int n = windows.size();
        int[] tokens = new int[n * t];
        for (int i = 0; i < n; i++) {
            System.arraycopy(windows.get(i), 0, tokens, i * t, t);
        }
        long[] ids = new long[tokens.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = tokens[i];
        }
        INDArray logits = m.logits(tokens, n, t, EffectiveWeights.DENSE);
        int v = m.config().vocabSize();
        SafetensorsWriter.write(storage, dumpLogits, List.of(
                new SafetensorsWriter.Entry("logits", DType.F32, new long[] {n, t, v},
                        TensorCodec.encodeFloats(logits.castTo(DataType.FLOAT).dup('c').data().asFloat(), DType.F32)),
                new SafetensorsWriter.Entry("input_ids", DType.I64, new long[] {n, t}, TensorCodec.encodeI64(ids))),
                Map.of("model", modelPath, "seqlen", Integer.toString(t)));
    }
}
