package org.sparseft.jobs;

import org.sparseft.jobs.pretrain.PretrainResult;
import org.sparseft.jobs.pretrain.PretrainService;
import org.sparseft.jobs.pretrain.PretrainSpec;
import org.sparseft.jobs.service.Progress;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/**
 * {@code sparseft pretrain}: trains the architecture of an HF config.json from scratch, or on from a checkpoint's
 * weights ({@code --init}: the dense baseline beside sparse fine-tuning), and saves an HF checkpoint.
 */
@Command(name = "pretrain", mixinStandardHelpOptions = true, showDefaultValues = true,
        defaultValueProvider = PretrainCommand.Defaults.class,
        description = {"Train a GPT-2 or LLaMA-family model from scratch: the architecture comes from a Hugging Face "
                + "config.json, the data is tokenized and cut into blocks on Spark, and the result is a Hugging Face "
                + "checkpoint directory (config.json, model.safetensors, tokenizer.json, training.json).",
                "Training is data-parallel on Spark: every partition takes an equal share of each step's batch; "
                + "gradients are summed in partition order every step, on the driver (--sync grad) or on the "
                + "executors (--sync sharded), or parameters averaged every --every steps (--sync average). Checkpoints and metrics.jsonl go to --run; --resume continues "
                + "from the newest checkpoint with the same final weights as an uninterrupted run."})
public final class PretrainCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "FILE", description = "A Hugging Face config.json.")
    String config;

    @Option(names = "--init", paramLabel = "DIR", description = "Start from this Hugging Face checkpoint's weights"
            + " instead of a random initialisation (continued training); its architecture must be --config's.")
    String init;

    @Option(names = "--validation", paramLabel = "URI", description = "Validation text (or tokens, .safetensors) for"
            + " perplexity.")
    String validation;

    @Option(names = "--tokenizer", paramLabel = "byte|DIR", description = "Tokenizer.")
    String tokenizer;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output model directory.")
    String out;

    @Option(names = "--force", description = "Replace an existing output directory and, without --resume, discard"
            + " an earlier run's checkpoints in --run.")
    boolean force;

    @CommandLine.Mixin
    TrainingOptions training;

    @Option(names = "--dtype", description = "Saved weight type: f32, bf16 or f16.")
    String dtype;

    @CommandLine.Mixin
    SparkOptions sparkOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The defaults shown in the help, read from {@link PretrainSpec.Builder}. */
    static final class Defaults extends CommandSettings.Defaults {
        Defaults() {
            super(PretrainSpec::builder);
        }
    }

    @Override
    public Integer call() throws Exception {
        return CommandSettings.runOnSpark(spec, sparkOptions, PretrainSpec.class, PretrainService::run,
                PretrainCommand::print);
    }

    private static void print(PretrainResult r, PrintWriter w, Progress progress) {
        w.printf("model       %s, %,d parameters%n", r.modelType(), r.parameters());
        if (r.tokensTrained() > 0) {
            w.printf("trained     steps %d..%d, %,d tokens in %.0f s (%.0f tok/s) on %d partitions%n",
                    r.firstStep() + 1, r.steps(), r.tokensTrained(), r.seconds(), r.tokensTrained() / r.seconds(),
                    r.partitions());
        } else {
            w.printf("trained     nothing left: resumed at the final checkpoint (step %d)%n", r.steps());
        }
        w.printf("train loss  %.4f%n", r.finalTrainLoss());
        if (r.validation() != null) {
            w.printf("validation  perplexity %.3f over %d windows of %d%n", r.validation().perplexity(),
                    r.validation().windows(), r.seqlen());
        }
        w.printf("run         %s%n", r.run());
        w.printf("wrote       %s%n", r.out());
    }
}
