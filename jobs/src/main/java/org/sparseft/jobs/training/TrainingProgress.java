package org.sparseft.jobs.training;

import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.driver.train.MetricsLine;
import org.sparseft.driver.train.TrainingRun;
import org.sparseft.eval.Perplexity;
import org.sparseft.jobs.service.Progress;
import org.sparseft.model.Parameters;

import java.io.IOException;
import java.util.function.BiFunction;
import java.util.function.Supplier;

/**
 * A training job's progress: a line every {@code log-every} steps (loss, learning rate, gradient norm, tokens/s,
 * bytes moved, ETA), validation perplexity every {@code eval-every} steps and at the end into the progress lines and
 * {@code metrics.jsonl}, and each checkpoint's path.
 */
public final class TrainingProgress implements DataParallelTrainer.Listener {
    private final Progress progress;
    private final TrainingSettings o;
    private final TrainingRun run;
    private final BiFunction<Integer, Parameters, Perplexity.Result> validation;
    private final int first;
    private final long started = System.nanoTime();
    private Perplexity.Result last;

    /**
     * @param validation perplexity after a number of steps, given the trained values then; null when there is no
     *                   validation data
     */
    public TrainingProgress(Progress progress, TrainingSettings o, TrainingRun run,
                            BiFunction<Integer, Parameters, Perplexity.Result> validation) {
        this.progress = progress;
        this.o = o;
        this.run = run;
        this.validation = validation;
        this.first = run.startStep();
    }

    @Override
    public void onStep(DataParallelTrainer.StepReport r, Supplier<Parameters> current) throws IOException {
        int done = r.step();
        int before = done - r.stepsInReport();
        if (done / o.logEvery() > before / o.logEvery() || before == first || done == o.steps()) {
            double elapsed = (System.nanoTime() - started) / 1e9;
            double eta = elapsed / (done - first) * (o.steps() - done);
            StringBuilder figures = new StringBuilder();
            r.figures().forEach((k, v) -> figures.append(String.format(" %s %.4g", k, v)));
            String moved = mb(r.bytesBroadcast() + r.bytesCollected()) + (r.bytesExchanged() > 0
                    ? " via the driver, " + mb(r.bytesExchanged()) + " between executors" : "");
            progress.step(String.format("step %d/%d loss %.4f lr %.2e |g| %.3f %.0f tok/s moved %s ETA %.0f s%s", done,
                    o.steps(), r.loss(), r.learningRate(), r.gradNorm(), r.tokensPerSecond(), moved, eta, figures));
        }
        boolean evalDue = o.evalEvery() > 0 && done / o.evalEvery() > before / o.evalEvery();
        if (validation != null && (evalDue || done == o.steps())) {
            last = validation.apply(done, current.get());
            run.metrics().write(MetricsLine.validation(done, last.perplexity(), last.meanNll()));
            progress.step(String.format("step %d validation perplexity %.3f over %d windows", done,
                    last.perplexity(), last.windows()));
        }
    }

    @Override
    public void onCheckpoint(int step, String path) {
        progress.step("checkpoint " + path);
    }

    /** The latest validation result, or null. */
    public Perplexity.Result last() {
        return last;
    }

    /**
     * How the run synchronises and what that moves, for the opening progress line: "grad sync, 12.3 MB per step",
     * "average sync every 10 steps, 36.9 MB per round", "sharded sync, 24.6 MB per step between executors".
     */
    public static String syncTraffic(TrainingSettings o, long parameters, int partitions) {
        return switch (o.sync()) {
            case GRAD -> "grad sync, " + mb(4L * parameters * (1 + partitions)) + " per step";
            case AVERAGE -> "average sync every " + o.every() + " steps, " + mb(12L * parameters * (1 + partitions))
                    + " per round";
            case SHARDED -> "sharded sync, " + mb(8L * parameters * partitions) + " per step between executors";
        };
    }

    /** "12.3 MB". */
    public static String mb(long bytes) {
        return String.format("%.1f MB", bytes / 1e6);
    }
}
