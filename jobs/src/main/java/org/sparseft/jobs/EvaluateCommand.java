package org.sparseft.jobs;

import org.sparseft.jobs.evaluate.EvaluateResult;
import org.sparseft.jobs.evaluate.EvaluateService;
import org.sparseft.jobs.evaluate.EvaluateSpec;
import org.sparseft.jobs.service.Progress;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** {@code sparseft evaluate}: perplexity of a Hugging Face checkpoint on text or tokens. */
@Command(name = "evaluate", mixinStandardHelpOptions = true, showDefaultValues = true,
        defaultValueProvider = EvaluateCommand.Defaults.class,
        description = {"Perplexity of a model on non-overlapping windows of --seqlen tokens (the Wanda/SparseGPT "
                + "protocol: each window's mean loss over its seqlen-1 predictions, PPL = exp of their mean). Windows "
                + "are spread over Spark executors, which load the model by path."})
public final class EvaluateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model directory (any Hadoop FS URI).")
    String model;

    @CommandLine.Mixin
    DataInputOptions input;

    @Option(names = "--tokenizer", paramLabel = "byte|DIR",
            description = "Tokenizer for --data. Default: the model directory's.")
    String tokenizer;

    @Option(names = "--seqlen", paramLabel = "T", description = "Window length. Default: the model's positions, at most 1024.")
    Integer seqLen;

    @Option(names = "--batch", paramLabel = "B", description = "Windows per forward pass.")
    int batch;

    @Option(names = "--max-windows", paramLabel = "N", description = "Evaluate only the first N windows.")
    Integer maxWindows;

    @Option(names = "--out", paramLabel = "FILE", description = "Also write the result as JSON here.")
    String out;

    @Option(names = "--dump-logits", paramLabel = "FILE",
            description = "Write logits [N, T, V] (F32) and input_ids [N, T] of the first --dump-n windows to a"
                    + " safetensors file, to compare with other implementations.")
    String dumpLogits;

    @Option(names = "--dump-n", paramLabel = "N", description = "Windows in --dump-logits.")
    int dumpN;

    @Option(names = "--unigram-from", paramLabel = "FILE",
            description = "Also report the unigram baseline: token frequencies fitted on this token file (e.g. the"
                    + " train split's), scored on the same windows.")
    String unigramFrom;

    @Option(names = "--model-loading", paramLabel = "auto|whole|by-block", description = "How executors hold the"
            + " model: whole (each loads it once), by-block (the windows' states stay on the executors and the model"
            + " passes through them one block at a time, for a model larger than an executor's memory; the same"
            + " figures) or auto (whole when its float32 weights take at most a quarter of an executor's memory).")
    String modelLoading;

    @Option(names = "--force", description = "Replace existing --out and --dump-logits files.")
    boolean force;

    @CommandLine.Mixin
    SparkOptions sparkOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The defaults shown in the help, read from {@link EvaluateSpec.Builder}. */
    static final class Defaults extends CommandSettings.Defaults {
        Defaults() {
            super(EvaluateSpec::builder);
        }
    }

    @Override
    public Integer call() throws Exception {
        return CommandSettings.runOnSpark(spec, sparkOptions, EvaluateSpec.class, EvaluateService::run,
                EvaluateCommand::print);
    }

    private static void print(EvaluateResult r, PrintWriter w, Progress progress) {
        w.printf("model       %s (%s, %,d parameters)%n", r.model(), r.modelType(), r.parameters());
        w.printf("windows     %d x %d tokens%n", r.windows(), r.seqlen());
        w.printf("perplexity  %.4f (mean loss %.5f)%n", r.perplexity(), r.meanNll());
        if (r.unigramPerplexity() != null) {
            w.printf("unigram     perplexity %.4f (frequencies from %s)%n", r.unigramPerplexity(),
                    r.unigramFrom());
        }
        w.printf("speed       %.0f tokens/s (model loaded %s)%n", r.tokensPerSecond(),
                r.modelLoading().equals("whole") ? "whole on each executor" : "block by block");
        if (r.out() != null) {
            w.printf("wrote       %s%n", r.out());
        }
    }
}
