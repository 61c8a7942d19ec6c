package org.sparseft.jobs;

import org.sparseft.driver.prune.BlockRecovery;
import org.sparseft.driver.prune.LayerwisePruner;
import org.sparseft.jobs.prune.PruneResult;
import org.sparseft.sparsity.OutlierWeighting;
import org.sparseft.jobs.prune.PruneService;
import org.sparseft.jobs.prune.PruneSpec;
import org.sparseft.jobs.service.Progress;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code sparseft prune}: one-shot, training-free pruning of a dense checkpoint with calibration data on Spark. */
@Command(name = "prune", mixinStandardHelpOptions = true, showDefaultValues = true, defaultValueProvider = PruneCommand.Defaults.class,
        description = {"Prune a GPT-2 or LLaMA-family checkpoint once, without training: magnitude, Wanda, or DSnoT's"
                + " prune-and-grow on top of Wanda. Calibration sequences run block by block on the executors; the"
                + " driver sums their statistics and chooses each block's masks.",
                "The output keeps the input's files, names and dtypes with pruned weights exactly zero, plus"
                        + " sparsity.json, masks.safetensors and a compressed-tensors sparsity block in config.json."})
public final class PruneCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The dense checkpoint directory.")
    String model;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output checkpoint directory.")
    String out;

    @Option(names = "--force", description = "Replace an existing --out.")
    boolean force;

    @Option(names = "--method", required = true, paramLabel = "NAME", description = "magnitude, wanda, dsnot or sparsegpt.")
    String method;

    @ArgGroup(exclusive = true, multiplicity = "1", heading = "Sparsity, one of:%n")
    Target target = new Target();

    static final class Target {
        @Option(names = "--sparsity", paramLabel = "R",
                description = "Unstructured: the fraction pruned (Wanda, DSnoT: of each row; magnitude, SparseGPT's"
                        + " blocks and PST: of each matrix).")
        Double sparsity;

        @Option(names = "--pattern", paramLabel = "N:M", description = "N pruned in every M consecutive inputs of a row.")
        String pattern;
    }

    @ArgGroup(exclusive = true, multiplicity = "1", heading = "Calibration data, one of:%n")
    Calibration calibration = new Calibration();

    static final class Calibration {
        @Option(names = "--calib", paramLabel = "URI", description = "Calibration text on any Hadoop FS.")
        String calib;

        @Option(names = "--tokens", paramLabel = "FILE", description = "Pre-tokenized calibration (.txt or .safetensors).")
        String tokens;
    }

    @Option(names = "--sparsity-per-layer", paramLabel = "FILE", description = "JSON {\"name regex\": ratio or"
            + " \"N:M\"}: per-layer targets, first match wins; other weights get --sparsity/--pattern.")
    String perLayer;

    @Option(names = "--sparsity-profile", paramLabel = "uniform|owl", description = "How --sparsity spreads over"
            + " the decoder blocks: uniform, or owl (a first pass through the dense model counts each block's"
            + " outlier Wanda scores; blocks with more keep more weights, the mean stays --sparsity).")
    String sparsityProfile;

    @Option(names = "--owl-m", paramLabel = "M", description = "OWL: a score is an outlier above M times its block's"
            + " mean.")
    double owlM;

    @Option(names = "--owl-lambda", paramLabel = "L", description = "OWL: the blocks' sparsities spread over"
            + " --sparsity +- L (at most min(S, 1 - S)).")
    double owlLambda;

    @Option(names = "--recover-steps", paramLabel = "K", description = "Block-wise recovery: after each block is"
            + " pruned, K Adam steps on that block alone (masks fixed; kept weights, norms and biases train) towards"
            + " the dense block's outputs on the calibration sequences (0: none).")
    int recoverSteps;

    @Option(names = "--recover-lr", paramLabel = "LR", description = "Block-wise recovery: Adam's step size.")
    double recoverLr;

    @Option(names = "--recover-batch", paramLabel = "N", description = "Block-wise recovery: calibration sequences"
            + " per step, taken in turn.")
    int recoverBatch;

    @Option(names = "--recover-holdout", paramLabel = "N", description = "Block-wise recovery: the last N calibration"
            + " sequences (at most a quarter) are not trained on; every " + BlockRecovery.CHECK_EVERY + " steps the"
            + " block's error on them is measured, and each block keeps its best weights, its one-shot weights when no"
            + " step improved (0: keep the last step's).")
    int recoverHoldout;

    @Option(names = "--nsamples", description = "Calibration sequences.")
    int nsamples;

    @Option(names = "--seqlen", paramLabel = "T", description = "Tokens per calibration sequence (default: the"
            + " model's positions, at most 2048).")
    Integer seqLen;

    @Option(names = "--seed", description = "Seed of the calibration sample.")
    long seed;

    @Option(names = "--ignore", paramLabel = "REGEX", description = "Weights whose name matches are left dense.")
    String ignore;

    @Option(names = "--partitions", paramLabel = "P", description = "Calibration partitions (default: Spark's"
            + " default parallelism, at most --nsamples). Masks depend on P only through float summation order.")
    Integer partitions;

    @Option(names = "--calib-batch", paramLabel = "N", description = "Sequences per forward pass, at most:"
            + " fewer when one pass's activations would take more than a sixteenth of an executor's memory.")
    int calibBatch;

    @Option(names = "--tokenizer", paramLabel = "byte|DIR", description = "Tokenizer for --calib (default: the model's).")
    String tokenizer;

    @Option(names = "--update", paramLabel = "none|obs", description = "What happens to the kept weights of a"
            + " magnitude, Wanda or DSnoT mask: none, or obs (SparseGPT's column sweep with the mask held fixed, so"
            + " the kept weights absorb the pruned ones' error; --sparsegpt-percdamp and --sparsegpt-blocksize apply).")
    String update;

    @Option(names = "--dsnot-initial", paramLabel = "wanda|magnitude",
            description = "The mask DSnoT starts from.")
    String dsnotInitial;

    @Option(names = "--dsnot-max-cycles", description = "DSnoT prune-and-grow cycles.")
    int dsnotMaxCycles;

    @Option(names = "--dsnot-update-threshold", description = "DSnoT stops a row when its"
            + " |reconstruction error| is at most this.")
    double dsnotThreshold;

    @Option(names = "--dsnot-pow-of-var-regrowing", description = "Growth ranks by d / var^this.")
    double dsnotPow;

    @Option(names = "--dsnot-skip-layer", paramLabel = "mlp|attn|none",
            description = "Linears DSnoT leaves at the initial mask (the reference skips mlp).")
    String dsnotSkip;

    @Option(names = "--dsnot-sign-check", arity = "1", paramLabel = "true|false", description = "Stop a row when a swap would flip"
            + " its error's sign (default as the reference code: off for unstructured, on for N:M).")
    Boolean dsnotSignCheck;

    @Option(names = "--sparsegpt-percdamp", description = "SparseGPT adds this fraction of"
            + " the mean Hessian diagonal to the diagonal.")
    double sparseGptPercDamp;

    @Option(names = "--sparsegpt-blocksize", description = "SparseGPT's columns per lazy"
            + " update block.")
    int sparseGptBlockSize;

    @CommandLine.Mixin
    ExportOptions export;

    @CommandLine.Mixin
    SparkOptions sparkOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The defaults shown in the help, read from {@link PruneSpec.Builder}. */
    static final class Defaults extends CommandSettings.Defaults {
        Defaults() {
            super(PruneSpec::builder);
        }
    }

    @Override
    public Integer call() throws Exception {
        return CommandSettings.runOnSpark(spec, sparkOptions, PruneSpec.class, PruneService::run, PruneCommand::print);
    }

    private static void print(PruneResult r, PrintWriter w, Progress progress) {
        w.printf("model      %s (%s, %d blocks)%n", r.model(), r.modelType(), r.blocks());
        w.printf("method     %s, %s%s%n", r.method().name().toLowerCase(Locale.ROOT), r.target(),
                r.method() == LayerwisePruner.Method.DSNOT ? ", " + r.dsnotSwaps() + " DSnoT swaps" : "");
        OutlierWeighting.Plan owl = r.sparsity().provenance().owl();
        if (owl != null) {
            StringBuilder blocks = new StringBuilder();
            for (double s : owl.blockSparsity()) {
                blocks.append(String.format(Locale.ROOT, " %.4f", s));
            }
            w.printf("owl        block sparsities%s (M %s, lambda %s)%n", blocks, owl.m(), owl.lambda());
        }
        w.printf("calibrated %d sequences of %d tokens, %d partitions, %.1f s%n", r.sequences(), r.seqlen(),
                r.partitions(), r.seconds());
        w.printf("sparsity   %.4f over %d pruned linears%n", r.globalSparsity(), r.prunedLinears());
        w.printf("wrote      %s%n", r.out());
    }
}
