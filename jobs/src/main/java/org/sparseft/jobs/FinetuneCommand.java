package org.sparseft.jobs;

import org.sparseft.jobs.finetune.FinetuneResult;
import org.sparseft.jobs.finetune.FinetuneService;
import org.sparseft.jobs.finetune.FinetuneSpec;
import org.sparseft.jobs.service.Progress;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code sparseft finetune}: sparse fine-tuning of an HF checkpoint on Spark, exported as a sparse HF checkpoint. */
@Command(name = "finetune", mixinStandardHelpOptions = true, showDefaultValues = true,
        defaultValueProvider = FinetuneCommand.Defaults.class,
        description = {"Sparse fine-tuning on Spark.",
                "--method pst: the model stays frozen; per prunable linear, a low-rank importance A·B plus row and"
                + " column vectors R, C (and a low-rank weight update U·V) are trained, the mask keeps the highest"
                + " |W + U·V| + A·B + R + C at the scheduled sparsity, and only those small tensors travel each step.",
                "--method ast: every weight trains under N:M masks (--pattern) re-selected by magnitude every"
                + " --ast-reselect-every steps; pruned weights are decayed towards zero instead of cut, and the loss"
                + " distils the input model's logits (the teacher runs beside the student on each executor).",
                "The output is the input's layout with the sparse weights in place, masks.safetensors and"
                + " sparsity.json, like prune's."})
public final class FinetuneCommand implements Callable<Integer> {
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

    @Option(names = "--validation", paramLabel = "URI", description = "Validation text (or tokens) for perplexity"
            + " before, during and after.")
    String validation;

    @Option(names = "--tokenizer", paramLabel = "byte|DIR", description = "Tokenizer for --data (default: the"
            + " model's).")
    String tokenizer;

    @CommandLine.Mixin
    TrainingOptions training;

    @Option(names = "--sparsity-profile", paramLabel = "uniform|owl", description = "PST: how --sparsity spreads over"
            + " the decoder blocks: uniform, or owl (a dense pass over --owl-nsamples training sequences counts each"
            + " block's outlier Wanda scores; blocks with more keep more weights, the mean stays --sparsity).")
    String sparsityProfile;

    @Option(names = "--owl-m", paramLabel = "M", description = "OWL: a score is an outlier above M times its block's"
            + " mean.")
    double owlM;

    @Option(names = "--owl-lambda", paramLabel = "L", description = "OWL: the blocks' sparsities spread over"
            + " --sparsity +- L (at most min(S, 1 - S)).")
    double owlLambda;

    @Option(names = "--owl-nsamples", paramLabel = "N", description = "OWL: training sequences its dense pass runs.")
    int owlNsamples;

    @Option(names = "--pst-weight-rank", description = "Rank of the weight update U·V (0: none).")
    int weightRank;

    @Option(names = "--pst-mask-rank", description = "Rank of the importance term A·B.")
    int maskRank;

    @Option(names = "--pst-alpha1", description = "Weight of A·B in the importance.")
    double alpha1;

    @Option(names = "--pst-alpha2", description = "Weight of the row/column vectors.")
    double alpha2;

    @Option(names = "--pst-beta", description = "Scale of the weight update U·V.")
    double beta;

    @Option(names = "--pst-initial-warmup", description = "Fraction of steps at sparsity 0.")
    double initialWarmup;

    @Option(names = "--pst-final-warmup", description = "Fraction of steps at the target.")
    double finalWarmup;

    @Option(names = "--ast-reselect-every", paramLabel = "K",
            description = "Steps between magnitude re-selections of the N:M masks (0: keep the initial masks).")
    int reselectEvery;

    @Option(names = "--ast-decay", paramLabel = "LAMBDA",
            description = "λ_max of the decay λ(t)·(1 − M) ⊙ W added to pruned weights' gradients.")
    double decay;

    @Option(names = "--ast-decay-ramp", paramLabel = "F",
            description = "Fraction of the steps over which λ rises linearly from 0 to λ_max.")
    double decayRamp;

    @Option(names = "--ast-temperature", description = "Distillation temperature τ.")
    double temperature;

    @Option(names = "--ast-task-weight", description = "Weight of the next-token loss.")
    double taskWeight;

    @Option(names = "--ast-kl-weight", description = "Weight of the τ²-scaled KL to the"
            + " teacher (0: no teacher).")
    double klWeight;

    @Option(names = "--ast-slorb-group", paramLabel = "K", description = "SLoRB group size"
            + " (the reference uses 16; 0: no SLoRB). With SLoRB the low-rank branch is written to"
            + " slorb.safetensors beside the exactly N:M checkpoint; sparseft evaluate applies it.")
    int slorbGroup;

    @CommandLine.Mixin
    ExportOptions export;

    @CommandLine.Mixin
    SparkOptions sparkOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The defaults shown in the help, read from {@link FinetuneSpec.Builder}. */
    static final class Defaults extends CommandSettings.Defaults {
        Defaults() {
            super(FinetuneSpec::builder);
        }
    }

    @Override
    public Integer call() throws Exception {
        return CommandSettings.runOnSpark(spec, sparkOptions, FinetuneSpec.class, FinetuneService::run,
                FinetuneCommand::print);
    }

    private static void print(FinetuneResult r, PrintWriter w, Progress progress) {
        w.printf("model      %s (%s), %,d parameters%n", r.model(), r.modelType(), r.parameters());
        w.printf("method     %s, %s, %s%n", r.method().name().toLowerCase(Locale.ROOT), r.target(), r.trained());
        w.printf("trained    steps %d..%d, final train loss %.4f, %.0f s%n", r.firstStep() + 1, r.steps(),
                r.finalTrainLoss(), r.seconds());
        FinetuneResult.Validation v = r.validation();
        if (v != null) {
            w.printf("validation perplexity %.3f before (dense), %.3f after over %d windows%s%n", v.before(),
                    v.after(), v.windows(), v.afterWithoutBranch() == null ? ""
                            : String.format(" (%.3f without the SLoRB branch)", v.afterWithoutBranch()));
        }
        w.printf("sparsity   %.4f over %d linears%n", r.globalSparsity(), r.linears());
        w.printf("wrote      %s%n", r.out());
    }
}
