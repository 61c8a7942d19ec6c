package org.sparseft.jobs.bench;

import java.util.Random;

/** Shared pieces of the benchmarks: seeded inputs and the wall time of repeated calls. */
final class BenchRuns {
    private BenchRuns() {
    }

    /** Mean seconds of {@code reps} calls. */
    static double meanSeconds(Runnable work, int reps) {
        long t0 = System.nanoTime();
        for (int i = 0; i < reps; i++) {
            work.run();
        }
        return (System.nanoTime() - t0) / 1e9 / reps;
    }

    /** Median seconds of {@code reps} calls, each timed alone: a pass slowed by something else running counts once. */
    static double medianSeconds(Runnable work, int reps) {
        double[] seconds = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            work.run();
            seconds[i] = (System.nanoTime() - t0) / 1e9;
        }
        java.util.Arrays.sort(seconds);
        return reps % 2 == 1 ? seconds[reps / 2] : (seconds[reps / 2 - 1] + seconds[reps / 2]) / 2;
    }

    /** Token ids drawn uniformly from the vocabulary with a fixed seed. */
    static int[] randomTokens(int vocabSize, int count) {
        Random rnd = new Random(1);
        int[] tokens = new int[count];
        for (int i = 0; i < count; i++) {
            tokens[i] = rnd.nextInt(vocabSize);
        }
        return tokens;
    }
}
