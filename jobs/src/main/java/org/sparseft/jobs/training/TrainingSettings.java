package org.sparseft.jobs.training;

import org.apache.spark.api.java.JavaSparkContext;
import org.sparseft.InvalidSettingException;
import org.sparseft.driver.data.TextSource;
import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.io.Storage;
import org.sparseft.jobs.service.DataInput;
import org.sparseft.train.AdamW;
import org.sparseft.train.LearningRateSchedule;

import java.util.Objects;

/**
 * The settings every training job shares (pretrain, finetune): data-parallel layout, schedule, optimizer,
 * checkpoints and progress, with the defaults of the job (or of its method) already applied. Made by a job spec's
 * builder, which extends {@link Builder}; validated here, once, before anything runs.
 *
 * @param steps optimizer steps
 * @param batch sequences per step, split evenly over partitions
 * @param microBatch sequences per forward/backward pass within a partition (0: its whole share)
 * @param partitions data partitions, each one task per step; null for the largest divisor of {@code batch} not
 *                   above Spark's default parallelism
 * @param sync grad (gradients summed every step on the driver), sharded (the same on the executors) or average
 *             (local steps, parameters averaged every {@code every})
 * @param every steps per averaging round
 * @param checkpointEvery steps between checkpoints (0: only at the end)
 * @param keep checkpoints kept (the newest)
 * @param seqlen tokens per sequence
 * @param lr peak learning rate
 * @param warmup linear warm-up steps
 * @param minLrRatio the final learning rate as a fraction of the peak (cosine decay)
 * @param weightDecay AdamW weight decay, matrices only
 * @param beta2 AdamW's β2: the job's or method's, not a setting
 * @param clip gradient clipping by global norm (0: off)
 * @param seed seed of initialisation and data order
 * @param evalEvery validation every N steps (0: only at the end)
 * @param evalWindows validation windows per evaluation
 * @param logEvery a progress line every N steps
 * @param run the run directory (checkpoints, metrics.jsonl), or null for the output path with {@code .run} added
 * @param resume continue from the newest complete checkpoint in the run directory (a fresh start when there is none)
 */
public record TrainingSettings(int steps, int batch, int microBatch, Integer partitions, DataParallelTrainer.Sync sync,
                               int every, int checkpointEvery, int keep, int seqlen, double lr, int warmup,
                               double minLrRatio, double weightDecay, double beta2, double clip, long seed,
                               int evalEvery, int evalWindows, int logEvery, String run, boolean resume) {
    /**
     * A job's (or method's) defaults for the settings whose sensible value depends on it; {@code beta2} is not a
     * setting.
     */
    public record Defaults(double lr, int warmup, double weightDecay, double beta2, DataParallelTrainer.Sync sync) {
    }

    /** Validates every setting; a value out of range is an {@link org.sparseft.InvalidSettingException} naming it. */
    public TrainingSettings {
        Objects.requireNonNull(sync, "sync");
        atLeast("steps", steps, 1);
        atLeast("batch", batch, 1);
        atLeast("seqlen", seqlen, 2);
        atLeast("log-every", logEvery, 1);
        atLeast("eval-windows", evalWindows, 1);
        atLeast("eval-every", evalEvery, 0);
        atLeast("warmup", warmup, 0);
        if (!(lr > 0)) {
            throw InvalidSettingException.of("lr", lr, "expected a positive value");
        }
        if (!(weightDecay >= 0)) {
            throw InvalidSettingException.of("weight-decay", weightDecay, "expected a non-negative value");
        }
        if (minLrRatio < 0 || minLrRatio > 1) {
            throw InvalidSettingException.of("min-lr-ratio", minLrRatio, "expected a value in [0, 1]");
        }
        if (partitions != null && partitions < 1) {
            throw InvalidSettingException.of("partitions", partitions, "expected at least 1");
        }
        if (microBatch < 0 || every < 1 || checkpointEvery < 0) {
            throw new InvalidSettingException("{steps}, {batch} and {every} must be at least 1, {micro-batch} and"
                    + " {checkpoint-every} at least 0");
        }
        atLeast("keep", keep, 1);
        if (partitions != null) {
            share(batch, microBatch, partitions);
        }
    }

    private static void atLeast(String key, int value, int min) {
        if (value < min) {
            throw InvalidSettingException.of(key, value, "expected at least " + min);
        }
    }

    /** Sequences per partition per step; the batch must split evenly, and the micro-batch divide the share. */
    public int share(int partitions) {
        return share(batch, microBatch, partitions);
    }

    private static int share(int batch, int microBatch, int partitions) {
        if (batch % partitions != 0) {
            throw new InvalidSettingException("{batch} " + batch + " is not a multiple of {partitions} " + partitions
                    + ": every partition takes an equal share of each step's sequences");
        }
        int share = batch / partitions;
        if (microBatch > 0 && share % microBatch != 0) {
            throw new InvalidSettingException("{micro-batch} " + microBatch + " does not divide the " + share
                    + " sequences each partition takes per step ({batch} " + batch + " / " + partitions
                    + " partitions)");
        }
        return share;
    }

    /** The partitions of a run on {@code jsc}: the setting, or the largest divisor of the batch not above Spark's. */
    public int partitions(JavaSparkContext jsc) {
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

    /** The run directory, qualified: the setting, or {@code out} with {@code .run} added. */
    public String runDirectory(Storage storage, String out) {
        String o = out.endsWith("/") ? out.substring(0, out.length() - 1) : out;
        return storage.qualify(run != null ? run : o + ".run");
    }

    /** AdamW with β1 0.9, ε 1e-8 and this run's β2 and weight decay. */
    public AdamW.Options adam() {
        return new AdamW.Options(0.9, beta2, 1e-8, weightDecay);
    }

    /** The trainer's options: a cosine schedule from {@code lr} after the warm-up, down to {@code minLrRatio}. */
    public DataParallelTrainer.Options trainer() {
        LearningRateSchedule schedule = new LearningRateSchedule(lr, warmup, steps, LearningRateSchedule.Decay.COSINE,
                minLrRatio);
        return new DataParallelTrainer.Options(steps, batch, microBatch, sync, every, schedule, adam(), clip, seed,
                checkpointEvery);
    }

    /**
     * The settings a resume must repeat, as {@code TrainingState.identity} keys and values. The keys and the values'
     * text are what runs have recorded in their {@code state.json} from the start, so earlier runs stay resumable.
     */
    public Object[] identity(int partitions) {
        return new Object[] {"seqlen", seqlen, "partitions", partitions, "batch", batch, "micro_batch", microBatch,
                "sync", sync.name(), "every", sync == DataParallelTrainer.Sync.AVERAGE ? every : 1, "steps", steps,
                "lr", lr, "warmup", warmup, "min_lr_ratio", minLrRatio, "weight_decay", weightDecay, "clip", clip,
                "seed", seed};
    }

    /**
     * The keys both training jobs take: their output, their data, and the training settings, each a method named
     * after its key; the field initialisers are the defaults (the command line shows them from here). Settings whose
     * default depends on the job or method ({@code lr}, {@code warmup}, {@code weight-decay}, {@code sync}) are null
     * until given; the job's {@link Defaults} fill them in.
     *
     * @param <B> the job spec's builder
     */
    public abstract static class Builder<B extends Builder<B>> {
        private String out;
        private boolean force;
        private String data;
        private String tokens;
        private String format = "auto";
        private String textField = TextSource.DEFAULT_TEXT_FIELD;
        private String validation;
        private String run;
        private boolean resume;
        private int steps = 1000;
        private int batch = 8;
        private int microBatch = 0;
        private Integer partitions;
        private DataParallelTrainer.Sync sync;
        private int every = 10;
        private int checkpointEvery = 100;
        private int keep = 2;
        private int seqlen = 256;
        private Double lr;
        private Integer warmup;
        private double minLrRatio = 0.1;
        private Double weightDecay;
        private double clip = 1.0;
        private long seed = 0;
        private int evalEvery = 200;
        private int evalWindows = 64;
        private int logEvery = 10;

        /** A builder with every default. */
        protected Builder() {
        }

        /** This builder, as its own type. */
        protected abstract B self();

        /** The output directory. */
        public B out(String dir) {
            out = dir;
            return self();
        }

        /** Replace an existing output and, without {@code resume}, discard an earlier run's checkpoints. */
        public B force(boolean replace) {
            force = replace;
            return self();
        }

        /** Training text: a file, directory or glob on any Hadoop FS; one of this or {@link #tokens}. */
        public B data(String uri) {
            data = uri;
            return self();
        }

        /** Pre-tokenized training data (.txt or .safetensors); one of this or {@link #data}. */
        public B tokens(String file) {
            tokens = file;
            return self();
        }

        /** The text's format: auto (by extension), text, jsonl or parquet. */
        public B format(String textFormat) {
            format = textFormat;
            return self();
        }

        /** The text field of JSON Lines, or column of Parquet. */
        public B textField(String name) {
            textField = name;
            return self();
        }

        /** Validation text, or tokens (.safetensors), for perplexity; null for none. */
        public B validation(String uri) {
            validation = uri;
            return self();
        }

        /** The run directory (default: the output path with {@code .run} added). */
        public B run(String dir) {
            run = dir;
            return self();
        }

        /** Continue from the newest complete checkpoint in the run directory (a fresh start when there is none). */
        public B resume(boolean fromNewestCheckpoint) {
            resume = fromNewestCheckpoint;
            return self();
        }

        /** Optimizer steps. */
        public B steps(int optimizerSteps) {
            steps = optimizerSteps;
            return self();
        }

        /** Sequences per step, split evenly over partitions. */
        public B batch(int sequencesPerStep) {
            batch = sequencesPerStep;
            return self();
        }

        /** Sequences per forward/backward pass within a partition (0: its whole share). */
        public B microBatch(int sequencesPerPass) {
            microBatch = sequencesPerPass;
            return self();
        }

        /**
         * Data partitions, each one task per step; null for the largest divisor of {@code batch} not above Spark's
         * default parallelism.
         */
        public B partitions(Integer p) {
            partitions = p;
            return self();
        }

        /** Grad (gradients summed every step) or average (local steps, parameters averaged every {@code every}). */
        public B sync(DataParallelTrainer.Sync mode) {
            sync = mode;
            return self();
        }

        /** Steps per averaging round. */
        public B every(int stepsPerRound) {
            every = stepsPerRound;
            return self();
        }

        /** Steps between checkpoints (0: only at the end). */
        public B checkpointEvery(int stepsBetween) {
            checkpointEvery = stepsBetween;
            return self();
        }

        /** Checkpoints kept (the newest). */
        public B keep(int checkpoints) {
            keep = checkpoints;
            return self();
        }

        /** Tokens per sequence. */
        public B seqlen(int tokensPerSequence) {
            seqlen = tokensPerSequence;
            return self();
        }

        /** Peak learning rate. */
        public B lr(Double peak) {
            lr = peak;
            return self();
        }

        /** Linear warm-up steps. */
        public B warmup(Integer warmupSteps) {
            warmup = warmupSteps;
            return self();
        }

        /** The final learning rate as a fraction of the peak (cosine decay). */
        public B minLrRatio(double ratio) {
            minLrRatio = ratio;
            return self();
        }

        /** AdamW weight decay, matrices only. */
        public B weightDecay(Double decay) {
            weightDecay = decay;
            return self();
        }

        /** Gradient clipping by global norm (0: off). */
        public B clip(double maxGradNorm) {
            clip = maxGradNorm;
            return self();
        }

        /** Seed of initialisation and data order. */
        public B seed(long s) {
            seed = s;
            return self();
        }

        /** Validation every N steps (0: only at the end). */
        public B evalEvery(int stepsBetween) {
            evalEvery = stepsBetween;
            return self();
        }

        /** Validation windows per evaluation. */
        public B evalWindows(int windows) {
            evalWindows = windows;
            return self();
        }

        /** A progress line every N steps. */
        public B logEvery(int stepsBetween) {
            logEvery = stepsBetween;
            return self();
        }

        /** The output directory as given. */
        protected String outPath() {
            return out;
        }

        /** Whether existing outputs are replaced. */
        protected boolean replace() {
            return force;
        }

        /** The training data: text or tokens, exactly one given. */
        protected DataInput trainingData() {
            return DataInput.either("data", data, "tokens", tokens, format, textField);
        }

        /** The validation data: tokens when it ends in {@code .safetensors}, else text; null when not given. */
        protected DataInput validationData() {
            if (validation == null) {
                return null;
            }
            return validation.endsWith(".safetensors") ? DataInput.tokens("validation", validation)
                    : DataInput.text("validation", validation);
        }

        /**
         * The training settings of {@code b}, those not given taken from {@code defaults}; validated. (Static, as
         * every other one-argument method of a builder would be read as a setting.)
         */
        protected static TrainingSettings training(Builder<?> b, Defaults defaults) {
            return new TrainingSettings(b.steps, b.batch, b.microBatch, b.partitions,
                    b.sync != null ? b.sync : defaults.sync(), b.every, b.checkpointEvery, b.keep, b.seqlen,
                    b.lr != null ? b.lr : defaults.lr(), b.warmup != null ? b.warmup : defaults.warmup(), b.minLrRatio,
                    b.weightDecay != null ? b.weightDecay : defaults.weightDecay(), defaults.beta2(), b.clip, b.seed,
                    b.evalEvery, b.evalWindows, b.logEvery, b.run, b.resume);
        }
    }
}
