package org.sparseft.numerics;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * Splits a fused kernel's independent rows (or elements) over the cores the BLAS uses, so element-wise work runs on
 * as many cores as the products around it. Each part computes exactly what the whole loop computed for its range,
 * so results do not depend on how many threads ran: only the wall time does.
 *
 * <p>Threads: the system property {@code sparseft.kernel.threads}, else {@code OMP_NUM_THREADS} (sparseft's
 * launchers and Spark settings set it to the cores of a task), else the available processors; never more than
 * those. The caller computes the first part itself and waits for the others.
 */
final class KernelThreads {
    /** A contiguous range [from, to) of a kernel's rows or elements. */
    @FunctionalInterface
    interface Range {
        void run(long from, long to);
    }

    private static final int THREADS = threads();
    private static final ForkJoinPool POOL = THREADS > 1 ? new ForkJoinPool(THREADS - 1) : null;

    private KernelThreads() {
    }

    private static int threads() {
        int cores = Runtime.getRuntime().availableProcessors();
        String setting = System.getProperty("sparseft.kernel.threads", System.getenv("OMP_NUM_THREADS"));
        if (setting == null || setting.isBlank()) {
            return cores;
        }
        try {
            return Math.max(1, Math.min(cores, Integer.parseInt(setting.trim().split(",")[0])));
        } catch (NumberFormatException e) {
            return cores;
        }
    }

    /**
     * Runs {@code range} over [0, n) in up to {@link #THREADS} parts of at least {@code minPart} units each, part
     * boundaries multiples of {@code align}; {@code extra}, when not null, runs as one more part (work that must stay
     * whole, such as a sum over all rows in order).
     */
    static void forEachPart(long n, long minPart, long align, Range range, Runnable extra) {
        int parts = (int) Math.max(1, Math.min(THREADS, n / Math.max(1, minPart)));
        if (parts == 1 || POOL == null) {
            range.run(0, n);
            if (extra != null) {
                extra.run();
            }
            return;
        }
        long step = (n + parts - 1) / parts;
        step = (step + align - 1) / align * align;
        List<ForkJoinTask<?>> others = new ArrayList<>(parts);
        if (extra != null) {
            others.add(POOL.submit(extra));
        }
        for (long from = step; from < n; from += step) {
            long lo = from;
            long hi = Math.min(n, from + step);
            others.add(POOL.submit(() -> range.run(lo, hi)));
        }
        Throwable failure = null;
        try {
            range.run(0, Math.min(n, step));
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        for (ForkJoinTask<?> t : others) { // wait for every part before the buffers may be freed
            try {
                t.join();
            } catch (RuntimeException | Error e) {
                if (failure == null) {
                    failure = e;
                }
            }
        }
        if (failure instanceof RuntimeException r) {
            throw r;
        }
        if (failure instanceof Error err) {
            throw err;
        }
    }
}
