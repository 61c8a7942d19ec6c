package org.sparseft.jobs.bench;

import java.util.Random;

/** Shared pieces of the benchmarks: seeded inputs and mean wall time of repeated calls. */
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
