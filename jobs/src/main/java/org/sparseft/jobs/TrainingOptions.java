package org.sparseft.jobs;

import org.apache.spark.api.java.JavaSparkContext;
import org.sparseft.BadInputException;
import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.io.Storage;
import org.sparseft.train.AdamW;
import org.sparseft.train.LearningRateSchedule;
import picocli.CommandLine.Option;

import java.util.Locale;

/**
 * The options every training command shares (pretrain, finetune): data-parallel layout, schedule, optimizer,
 * checkpoints and progress. Options whose sensible value depends on the command (learning rate, warm-up, weight
 * decay) have no default here; each command passes its own {@link Defaults}.
 */
final class TrainingOptions {
    /** A command's defaults for the options left unset. */
    record Defaults(double lr, int warmup, double weightDecay, double beta2, DataParallelTrainer.Sync sync) {
    }

    @Option(names = "--run", paramLabel = "DIR",
            description = "Run directory: checkpoints/ and metrics.jsonl (default: the --out path with .run added).")
    String runDir;

    @Option(names = "--resume", description = "Continue from the newest complete checkpoint in --run (a fresh start"
            + " when there is none).")
    boolean resume;

    @Option(names = "--steps", defaultValue = "1000", description = "Optimizer steps.")
    int steps;

    @Option(names = "--batch", defaultValue = "8", description = "Sequences per step, split evenly over partitions.")
    int batch;

    @Option(names = "--micro-batch", defaultValue = "0", paramLabel = "N",
            description = "Sequences per forward/backward pass within a partition (0: its whole share).")
    int microBatch;

    @Option(names = "--partitions", paramLabel = "P",
            description = "Data partitions, each one task per step (default: the largest divisor of --batch not above"
                    + " Spark's default parallelism; give it explicitly on clusters, so that a --resume matches). The"
                    + " result depends on P, never on scheduling.")
    Integer partitions;

    @Option(names = "--sync", paramLabel = "grad|average", description = "grad: sum gradients every step;"
            + " average: local steps, parameters averaged every --every (default: the command's).")
    String sync;

    @Option(names = "--every", defaultValue = "10", paramLabel = "H", description = "Steps per averaging round.")
    int every;

    @Option(names = "--checkpoint-every", defaultValue = "100", paramLabel = "N",
            description = "Steps between checkpoints (0: only at the end).")
    int checkpointEvery;

    @Option(names = "--keep", defaultValue = "2", paramLabel = "K", description = "Checkpoints kept (the newest).")
    int keep;

    @Option(names = "--seqlen", defaultValue = "256", description = "Tokens per sequence.")
    int seqLen;

    @Option(names = "--lr", description = "Peak learning rate (default: the command's).")
    Double lr;

    @Option(names = "--warmup", description = "Linear warmup steps (default: the command's).")
    Integer warmup;

    @Option(names = "--min-lr-ratio", defaultValue = "0.1", description = "Final learning rate as a fraction of the peak.")
    double minLrRatio;

    @Option(names = "--weight-decay", description = "AdamW weight decay, matrices only (default: the command's).")
    Double weightDecay;

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

    DataParallelTrainer.Sync syncMode(Defaults d) {
        if (sync == null) {
            return d.sync();
        }
        return switch (sync.toLowerCase(Locale.ROOT)) {
            case "grad" -> DataParallelTrainer.Sync.GRAD;
            case "average" -> DataParallelTrainer.Sync.AVERAGE;
            default -> throw new BadInputException("--sync " + sync + ": expected grad or average");
        };
    }

    private static void atLeast(String flag, int value, int min) {
        if (value < min) {
            throw new BadInputException(flag + " " + value + ": expected at least " + min);
        }
    }

    /** Refuses out-of-range values before any work. */
    void validate(Defaults d) {
        syncMode(d);
        atLeast("--steps", steps, 1);
        atLeast("--batch", batch, 1);
        atLeast("--seqlen", seqLen, 2);
        atLeast("--log-every", logEvery, 1);
        atLeast("--eval-windows", evalWindows, 1);
        atLeast("--eval-every", evalEvery, 0);
        atLeast("--warmup", warmup(d), 0);
        if (!(lr(d) > 0)) {
            throw new BadInputException("--lr " + lr(d) + ": expected a positive value");
        }
        if (!(weightDecay(d) >= 0)) {
            throw new BadInputException("--weight-decay " + weightDecay(d) + ": expected a non-negative value");
        }
        if (minLrRatio < 0 || minLrRatio > 1) {
            throw new BadInputException("--min-lr-ratio " + minLrRatio + ": expected a value in [0, 1]");
        }
        if (partitions != null && partitions < 1) {
            throw new BadInputException("--partitions " + partitions + ": expected at least 1");
        }
    }

    double lr(Defaults d) {
        return lr != null ? lr : d.lr();
    }

    int warmup(Defaults d) {
        return warmup != null ? warmup : d.warmup();
    }

    double weightDecay(Defaults d) {
        return weightDecay != null ? weightDecay : d.weightDecay();
    }

    AdamW.Options adam(Defaults d) {
        return new AdamW.Options(0.9, d.beta2(), 1e-8, weightDecay(d));
    }

    DataParallelTrainer.Options trainer(Defaults d) {
        LearningRateSchedule schedule = new LearningRateSchedule(lr(d), warmup(d), steps,
                LearningRateSchedule.Decay.COSINE, minLrRatio);
        return new DataParallelTrainer.Options(steps, batch, microBatch, syncMode(d), every, schedule, adam(d), clip,
                seed, checkpointEvery);
    }

    /** --partitions, or the largest divisor of the batch not above Spark's default parallelism. */
    int partitions(JavaSparkContext jsc) {
        return partitions != null ? partitions : defaultPartitions(batch, jsc.defaultParallelism());
    }

    static int defaultPartitions(int batch, int parallelism) {
        for (int p = Math.min(batch, Math.max(1, parallelism)); p > 1; p--) {
            if (batch % p == 0) {
                return p;
            }
        }
        return 1;
    }

    String run(Storage storage, String out) {
        String o = out.endsWith("/") ? out.substring(0, out.length() - 1) : out;
        return storage.qualify(runDir != null ? runDir : o + ".run");
    }

    /** The settings a resume must match, for {@code TrainingState.identity}. */
    Object[] identity(Defaults d, int partitions) {
        DataParallelTrainer.Sync s = syncMode(d);
        return new Object[] {"seqlen", seqLen, "partitions", partitions, "batch", batch, "micro_batch", microBatch,
                "sync", s, "every", s == DataParallelTrainer.Sync.AVERAGE ? every : 1, "steps", steps, "lr", lr(d),
                "warmup", warmup(d), "min_lr_ratio", minLrRatio, "weight_decay", weightDecay(d), "clip", clip,
                "seed", seed};
    }

    static String mb(long bytes) {
        return String.format("%.1f MB", bytes / 1e6);
    }
}
