package org.sparseft.jobs.service;

import org.apache.spark.sql.SparkSession;
import org.sparseft.driver.SparkSessions;

import java.util.function.Supplier;

/**
 * A Spark session started on first use: a pipeline whose stages all finished earlier starts no Spark at all.
 * Closing it stops the session if one was started.
 */
public final class LazySession implements AutoCloseable {
    private final Supplier<SparkSession> start;
    private SparkSession session;

    /** A session that {@code start} makes when it is first needed. */
    public LazySession(Supplier<SparkSession> start) {
        this.start = start;
    }

    /** The session, started now if this is the first call. */
    public synchronized SparkSession get() {
        if (session == null) {
            session = start.get();
        }
        return session;
    }

    @Override
    public synchronized void close() {
        if (session != null) {
            SparkSessions.stop(session);
            session = null;
        }
    }
}
