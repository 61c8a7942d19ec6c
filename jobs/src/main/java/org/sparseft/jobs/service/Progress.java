package org.sparseft.jobs.service;

import java.io.PrintWriter;
import java.time.Duration;

/** Progress lines on stderr: what is being done, and how long each step took. */
public final class Progress {
    private final PrintWriter err;
    private final long start = System.nanoTime();

    /** Progress lines to {@code err}, timed from now. */
    public Progress(PrintWriter err) {
        this.err = err;
    }

    /** A line saying what is being done now, after the time since this progress began. */
    public void step(String what) {
        err.printf("[%s] %s%n", elapsed(), what);
        err.flush();
    }

    /** The time since this progress began, as hh:mm:ss. */
    public String elapsed() {
        Duration d = Duration.ofNanos(System.nanoTime() - start);
        return String.format("%02d:%02d:%02d", d.toHours(), d.toMinutesPart(), d.toSecondsPart());
    }

    /** Seconds since this progress began. */
    public double seconds() {
        return (System.nanoTime() - start) / 1e9;
    }
}
