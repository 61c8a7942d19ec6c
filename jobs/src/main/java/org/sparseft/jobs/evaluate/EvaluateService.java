package org.sparseft.jobs.evaluate;

import org.apache.spark.api.java.JavaRDD;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.BadInputException;
import org.sparseft.InvalidSettingException;
import org.sparseft.data.TokenFiles;
import org.sparseft.driver.eval.DistributedPerplexity;
import org.sparseft.eval.Perplexity;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.io.safetensors.TensorCodec;
import org.sparseft.io.tokenizer.Tokenizer;
import org.sparseft.io.tokenizer.Tokenizers;
import org.sparseft.jobs.service.DataInput;
import org.sparseft.jobs.service.ExecutorMemory;
import org.sparseft.jobs.service.JobContext;
import org.sparseft.jobs.service.Outputs;
import org.sparseft.jobs.service.Progress;
import org.sparseft.jobs.service.SparkProgress;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.ModelConfig;

import java.util.List;
import java.util.Map;

/**
 * Runs an {@link EvaluateSpec}: cuts the input into windows, spreads them over the executors (which load the model
 * by path) and averages their losses; optionally the unigram baseline on the same windows, the first windows' logits
 * as safetensors, and the result as JSON.
 */
public final class EvaluateService {
    /** The JSON of a result, as {@code out} holds it. */

    private EvaluateService() {
    }

    /**
     * Runs {@code spec} on the context's session (which it neither starts nor stops); returns the perplexity measured.
     */
    public static EvaluateResult run(EvaluateSpec spec, JobContext context) throws Exception {
        Storage storage = context.storage();
        Progress progress = context.progress();
        String model = spec.model();
        String out = spec.out();
        String dumpLogits = spec.dumpLogits();
        Outputs.checkFile(storage, "out", out, spec.force());
        Outputs.checkFile(storage, "dump-logits", dumpLogits, spec.force());
        Outputs.refuseOverlap(storage, "out", out, "model", model);
        Outputs.refuseOverlap(storage, "dump-logits", dumpLogits, "model", model);
        String modelPath = storage.qualify(model);
        ModelConfig cfg;
        String contentHash;
        try (HfCheckpoint c = HfCheckpoint.open(storage, modelPath)) {
            c.validateAgainstConfig();
            cfg = c.model();
            contentHash = c.contentHash();
        }
        int t = spec.seqlen() != null ? spec.seqlen() : Math.min(cfg.maxPositions(), 1024);
        if (t < 2 || t > cfg.maxPositions()) {
            throw InvalidSettingException.of("seqlen", t, "expected 2.." + cfg.maxPositions()
                    + " (the model's positions)");
        }
        DataInput input = spec.input();
        String tokSpec = input.tokenizerFor(storage, spec.tokenizer(), model, modelPath);
        Tokenizer tok = input.kind() == DataInput.Kind.TEXT ? Tokenizers.load(storage, tokSpec) : null;
        if (tok != null && tok.vocabSize() > cfg.vocabSize()) {
            throw new BadInputException("tokenizer " + tokSpec + " has " + tok.vocabSize()
                    + " tokens, more than the model's vocabulary of " + cfg.vocabSize());
        }
        DataInput.Blocks blocks = input.blocks(context.spark(), tokSpec, cfg.vocabSize(), t, progress);
        Integer maxWindows = spec.maxWindows();
        long limit = maxWindows == null ? Long.MAX_VALUE : maxWindows; // a local: the lambda must capture no spec
        JavaRDD<int[]> windows = maxWindows == null ? blocks.blocks()
                : blocks.blocks().zipWithIndex().filter(w -> w._2() < limit).map(w -> w._1());
        progress.step("evaluating " + Math.min(blocks.count(), limit) + " windows of " + t + " tokens");
        long started = System.nanoTime();
        ModelLoading loading = loading(spec.modelLoading(), cfg, context);
        if (loading == ModelLoading.BY_BLOCK) {
            ExecutorMemory.checkTwoPartsFit(context.spark().sparkContext(), cfg, modelPath);
            progress.step("the model passes block by block through the windows' states (" + cfg.numLayers()
                    + " blocks)");
        }
        Perplexity.Result r;
        try (SparkProgress ignored = SparkProgress.of(context.spark(), progress, "evaluating")) {
            r = loading == ModelLoading.WHOLE
                    ? DistributedPerplexity.evaluate(windows, modelPath, contentHash, spec.batch(), t)
                    : DistributedPerplexity.evaluateByBlock(windows, modelPath, contentHash, cfg.numLayers(),
                    cfg.hiddenSize(), spec.batch(), t);
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        Perplexity.Result unigram = null;
        if (spec.unigramFrom() != null) {
            progress.step("unigram baseline from " + spec.unigramFrom());
            unigram = Perplexity.unigramBaseline(TokenFiles.read(storage, spec.unigramFrom(), cfg.vocabSize()),
                    windows.collect(), cfg.vocabSize());
        }
        if (dumpLogits != null) {
            progress.step("writing logits of " + spec.dumpN() + " windows to " + dumpLogits);
            dump(storage, modelPath, windows.take(spec.dumpN()), t, dumpLogits);
        }
        blocks.blocks().unpersist(false);
        long tokens = (long) r.windows() * t;
        EvaluateResult result = new EvaluateResult(modelPath, input.uri(), t, r.windows(), tokens, r.meanNll(),
                r.perplexity(), seconds, r.windows() * (double) t / seconds,
                unigram == null ? null : spec.unigramFrom(), unigram == null ? null : unigram.perplexity(),
                cfg.modelType(), cfg.parameterCount(), out, dumpLogits,
                loading.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        if (out != null) {
            storage.writeAtomically(out, Json.PRETTY.writeValueAsBytes(result));
        }
        return result;
    }

    /**
     * {@code AUTO} resolved: whole when the model's float32 weights take at most a quarter of an executor's memory
     * (the driver's in local mode, {@code spark.executor.memory} on a cluster).
     */
    static ModelLoading loading(ModelLoading asked, ModelConfig cfg, JobContext context) {
        if (asked != ModelLoading.AUTO) {
            return asked;
        }
        long executorBytes = ExecutorMemory.bytes(context.spark().sparkContext());
        return 4L * cfg.parameterCount() <= executorBytes / 4 ? ModelLoading.WHOLE : ModelLoading.BY_BLOCK;
    }

    /** The logits of the first windows, loaded and computed on the driver, as F32 [N, T, V] with their input ids. */
    private static void dump(Storage storage, String modelPath, List<int[]> windows, int t, String file)
            throws Exception {
        DecoderModel m;
        try (HfCheckpoint c = HfCheckpoint.open(storage, modelPath)) {
            m = DecoderModel.of(c.parameters(DataType.FLOAT));
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
        SafetensorsWriter.write(storage, file, List.of(
                new SafetensorsWriter.Entry("logits", DType.F32, new long[] {n, t, v},
                        TensorCodec.encodeFloats(logits.castTo(DataType.FLOAT).dup('c').data().asFloat(), DType.F32)),
                new SafetensorsWriter.Entry("input_ids", DType.I64, new long[] {n, t}, TensorCodec.encodeI64(ids))),
                Map.of("model", modelPath, "seqlen", Integer.toString(t)));
    }
}
