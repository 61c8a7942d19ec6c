package org.sparseft.jobs;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Option;

/**
 * The flags both training commands (pretrain, finetune) take for their data and training settings, for parsing and
 * help only: the values go to the job spec by key ({@link CommandSettings#given}), and the defaults the help shows
 * come from the spec's builder ({@link org.sparseft.jobs.training.TrainingSettings.Builder}), where they are
 * declared. Options whose default depends on the command or method (learning rate, warm-up, weight decay, sync) have
 * none there.
 */
final class TrainingOptions {
    @ArgGroup(exclusive = true, multiplicity = "1", heading = "Input, one of:%n")
    Source source = new Source();

    static final class Source {
        @Option(names = "--data", paramLabel = "URI",
                description = "Text: a file, directory or glob on any Hadoop FS (file://, hdfs://, ...).")
        String data;

        @Option(names = "--tokens", paramLabel = "FILE",
                description = "Pre-tokenized: .txt (whitespace-separated ids, one sequence per line) or .safetensors"
                        + " (integer input_ids or tokens [N, T]). Sequences are joined and re-cut to --seqlen.")
        String tokens;
    }

    @Option(names = "--format", paramLabel = "FMT",
            description = "Text format: auto (by extension), text (documents separated by empty lines), jsonl or"
                    + " parquet.")
    String format;

    @Option(names = "--text-field", paramLabel = "NAME",
            description = "The text field of JSON Lines / column of Parquet.")
    String textField;

    @Option(names = "--run", paramLabel = "DIR",
            description = "Run directory: checkpoints/ and metrics.jsonl (default: the --out path with .run added).")
    String runDir;

    @Option(names = "--resume", description = "Continue from the newest complete checkpoint in --run (a fresh start"
            + " when there is none).")
    boolean resume;

    @Option(names = "--steps", description = "Optimizer steps.")
    int steps;

    @Option(names = "--batch", description = "Sequences per step, split evenly over partitions.")
    int batch;

    @Option(names = "--micro-batch", paramLabel = "N",
            description = "Sequences per forward/backward pass within a partition (0: its whole share).")
    int microBatch;

    @Option(names = "--partitions", paramLabel = "P",
            description = "Data partitions, each one task per step (default: the largest divisor of --batch not above"
                    + " Spark's default parallelism; give it explicitly on clusters, so that a --resume matches). The"
                    + " result depends on P, never on scheduling.")
    Integer partitions;

    @Option(names = "--sync", paramLabel = "grad|sharded|average", description = "grad: the driver sums gradients"
            + " every step; sharded: the same bits, with gradients summed and AdamW applied on the executors, the"
            + " driver off the data path; average: local steps, parameters averaged every --every (default: the"
            + " command's).")
    String sync;

    @Option(names = "--every", paramLabel = "H", description = "Steps per averaging round.")
    int every;

    @Option(names = "--checkpoint-every", paramLabel = "N",
            description = "Steps between checkpoints (0: only at the end).")
    int checkpointEvery;

    @Option(names = "--keep", paramLabel = "K", description = "Checkpoints kept (the newest).")
    int keep;

    @Option(names = "--seqlen", description = "Tokens per sequence.")
    int seqLen;

    @Option(names = "--lr", description = "Peak learning rate (default: the command's).")
    Double lr;

    @Option(names = "--warmup", description = "Linear warmup steps (default: the command's).")
    Integer warmup;

    @Option(names = "--min-lr-ratio", description = "Final learning rate as a fraction of the peak.")
    double minLrRatio;

    @Option(names = "--weight-decay", description = "AdamW weight decay, matrices only (default: the command's).")
    Double weightDecay;

    @Option(names = "--clip", description = "Gradient clipping by global norm (0: off).")
    double clip;

    @Option(names = "--seed", description = "Seed of initialisation and data order.")
    long seed;

    @Option(names = "--eval-every", description = "Validation every N steps (0: only at the end).")
    int evalEvery;

    @Option(names = "--eval-windows", description = "Validation windows per evaluation.")
    int evalWindows;

    @Option(names = "--log-every", description = "Progress line every N steps.")
    int logEvery;
}
