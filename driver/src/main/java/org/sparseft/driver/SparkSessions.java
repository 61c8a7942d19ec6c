package org.sparseft.driver;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.sparseft.InvalidSettingException;
import org.sparseft.io.HadoopStorage;

import java.util.Map;

/**
 * The one place a SparkSession is made: Kryo with registration required, quiet UI in local mode, and local[*] when
 * neither {@code --master} nor spark-submit chose a master.
 */
public final class SparkSessions {
    public static final String DEFAULT_MASTER = "local[*]";

    private SparkSessions() {
    }

    /**
     * @param master null keeps the master from spark-submit or spark-defaults, else local[*]
     * @param conf extra Spark settings ({@code --conf k=v}); they win over sparseft's defaults
     */
    public static SparkSession create(String appName, String master, Map<String, String> conf) {
        SparkConf sc = new SparkConf(true).setAppName(appName);
        for (Map.Entry<String, String> e : conf.entrySet()) {
            if (!e.getKey().startsWith("spark.")) {
                throw InvalidSettingException.of("conf", e.getKey() + "=" + e.getValue(),
                        "Spark settings start with 'spark.'");
            }
            sc.set(e.getKey(), e.getValue());
        }
        if (master != null) {
            sc.setMaster(master);
        } else if (!sc.contains("spark.master")) {
            sc.setMaster(DEFAULT_MASTER);
        }
        // Defaults only where neither spark-submit, spark-defaults nor --conf chose: decided after the user's settings,
        // so that a cluster master never gets local-mode addresses.
        sc.setIfMissing("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
        sc.setIfMissing("spark.kryo.registrationRequired", "true");
        sc.setIfMissing("spark.kryo.registrator", KryoRegistration.class.getName());
        sc.setIfMissing("spark.sql.session.timeZone", "UTC");
        // A training task returns a whole gradient (or parameters and moments) as one result: allow Kryo's largest
        // buffer, and no cap on results reaching the driver (they are summed as they arrive, in partition order).
        sc.setIfMissing("spark.kryoserializer.buffer.max", "2047m");
        sc.setIfMissing("spark.driver.maxResultSize", "0");
        if (sc.get("spark.master").startsWith("local")) {
            sc.setIfMissing("spark.ui.enabled", "false");
            sc.setIfMissing("spark.driver.host", "127.0.0.1");
            sc.setIfMissing("spark.driver.bindAddress", "127.0.0.1");
            sc.setIfMissing("spark.sql.shuffle.partitions", "8");
            // In local mode the executor is this JVM: on a task's OutOfMemoryError Spark would System.exit(52) from
            // the task's thread, racing the command's own report. Checking no fatal error lets the task fail like
            // any other, and the command reports it (sparseft's exit code 3, a one-line message).
            sc.setIfMissing("spark.executor.killOnFatalError.depth", "0");
        }
        return SparkSession.builder().config(sc).getOrCreate();
    }

    /** How long {@link #stop} waits for Spark to stop. */
    public static final long STOP_WAIT_MILLIS = 60_000;

    /**
     * Stops the session, waiting at most {@link #STOP_WAIT_MILLIS}: after an OutOfMemoryError Spark's own threads
     * may be wedged, and a stop that never returned would keep the command from reporting it and exiting. A stop
     * still running then is left to finish (or not) while the JVM exits. Returns whether the session stopped.
     */
    public static boolean stop(SparkSession spark) {
        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        Thread stopping;
        try {
            stopping = new Thread(() -> {
                try {
                    spark.stop();
                } catch (Throwable t) {
                    failure.set(t);
                }
            }, "sparseft-spark-stop");
            stopping.setDaemon(true);
            stopping.start();
        } catch (OutOfMemoryError noThread) { // no memory for another thread: Spark's shutdown hook stops it on exit
            return false;
        }
        try {
            stopping.join(STOP_WAIT_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        Throwable t = failure.get();
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return !stopping.isAlive();
    }

    /** Storage on the driver, seeing the session's Hadoop settings ({@code spark.hadoop.*}). */
    public static HadoopStorage storage(SparkSession spark) {
        return new HadoopStorage(spark.sparkContext().hadoopConfiguration());
    }
}
