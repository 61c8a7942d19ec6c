package org.sparseft.jobs.bench;

import org.bytedeco.javacpp.Pointer;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The process's peak resident memory while a piece of work runs, sampled every 5 ms (javacpp's
 * {@code Pointer.physicalBytes()}: heap plus ND4J's off-heap buffers, including garbage not yet collected).
 */
final class PeakMemory implements AutoCloseable {
    private final AtomicLong peak = new AtomicLong();
    private final Thread sampler;

    PeakMemory() {
        System.gc();
        sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                peak.accumulateAndGet(Pointer.physicalBytes(), Math::max);
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "peak-memory");
        sampler.setDaemon(true);
        sampler.start();
    }

    long bytes() {
        return Math.max(peak.get(), Pointer.physicalBytes());
    }

    @Override
    public void close() {
        sampler.interrupt();
    }
}
