package org.sparseft.jobs.service;

import org.apache.spark.sql.SparkSession;
import org.sparseft.driver.SparkSessions;
import org.sparseft.io.Storage;

import java.io.PrintWriter;
import java.util.Objects;

/**
 * What a service runs with: the caller's Spark session (services neither start nor stop it), where progress lines
 * go, and how the job was invoked, recorded in its outputs' provenance (the command line, a recipe's stage, or the
 * Java API).
 */
public record JobContext(SparkSession spark, Progress progress, String invocation) {
    /** Requires the session and the progress output. */
    public JobContext {
        Objects.requireNonNull(spark, "spark");
        Objects.requireNonNull(progress, "progress");
        Objects.requireNonNull(invocation, "invocation");
    }

    /** Progress to standard error, as the command line shows it. */
    public static JobContext of(SparkSession spark, String invocation) {
        return new JobContext(spark, new Progress(new PrintWriter(System.err, true)), invocation);
    }

    /** The file systems of the session's Hadoop configuration. */
    public Storage storage() {
        return SparkSessions.storage(spark);
    }
}
