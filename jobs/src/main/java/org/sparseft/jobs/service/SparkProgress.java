package org.sparseft.jobs.service;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.JavaSparkStatusTracker;
import org.apache.spark.SparkJobInfo;
import org.apache.spark.SparkStageInfo;

import java.time.Duration;
import java.util.Locale;

/**
 * While open, a progress line on stderr at every interval in which the Spark jobs running made progress: tasks
 * finished of all their stages' tasks, tasks running, and the time left at the rate so far. For long single Spark
 * steps (evaluation, tokenization) that would otherwise print nothing between their first and last line.
 */
public final class SparkProgress implements AutoCloseable {
    static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(10);

    private final Thread thread;

    SparkProgress(JavaSparkContext jsc, Progress progress, String what, Duration interval) {
        long started = System.nanoTime();
        thread = new Thread(() -> {
            int lastDone = -1;
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    Thread.sleep(interval.toMillis());
                } catch (InterruptedException e) {
                    return;
                }
                int[] t = tasks(jsc.statusTracker());
                int done = t[0];
                int total = t[1];
                if (total > 0 && done != lastDone) {
                    lastDone = done;
                    double seconds = (System.nanoTime() - started) / 1e9;
                    String left = done == 0 ? "" : String.format(Locale.ROOT, ", about %.0f s left",
                            seconds / done * (total - done));
                    progress.step(String.format(Locale.ROOT, "%s: %d/%d tasks done, %d running%s", what, done,
                            total, t[2], left));
                }
            }
        }, "sparseft-progress");
        thread.setDaemon(true);
        thread.start();
    }

    /** Progress of the session's jobs every {@link #DEFAULT_INTERVAL}. */
    public static SparkProgress of(org.apache.spark.sql.SparkSession spark, Progress progress, String what) {
        return new SparkProgress(JavaSparkContext.fromSparkContext(spark.sparkContext()), progress, what,
                DEFAULT_INTERVAL);
    }

    /** Completed, all and running tasks of the stages of the active jobs. */
    static int[] tasks(JavaSparkStatusTracker tracker) {
        int done = 0;
        int total = 0;
        int running = 0;
        for (int job : tracker.getActiveJobIds()) {
            SparkJobInfo info = tracker.getJobInfo(job);
            if (info == null) {
                continue;
            }
            for (int stage : info.stageIds()) {
                SparkStageInfo s = tracker.getStageInfo(stage);
                if (s != null) {
                    done += s.numCompletedTasks();
                    total += s.numTasks();
                    running += s.numActiveTasks();
                }
            }
        }
        return new int[] {done, total, running};
    }

    @Override
    public void close() {
        thread.interrupt();
    }
}
