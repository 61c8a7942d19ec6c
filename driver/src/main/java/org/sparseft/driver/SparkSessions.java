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
        settings().forEach(sc::setIfMissing);
        sc.setIfMissing("spark.kryo.registrationRequired", "true");
        sc.setIfMissing("spark.sql.session.timeZone", "UTC");
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

    private static final String KRYO = "org.apache.spark.serializer.KryoSerializer";

    /**
     * The Spark settings sparseft's jobs need in a session they did not start: Kryo with sparseft's registrations
     * (its tasks return statistics, gradients and masks that Java serialization cannot carry); Kryo's largest buffer
     * and no cap on results reaching the driver, since a training task returns a whole gradient (or parameters and
     * moments) as one result, summed as results arrive, in partition order.
     */
    public static Map<String, String> settings() {
        Map<String, String> s = new java.util.LinkedHashMap<>();
        s.put("spark.serializer", KRYO);
        s.put("spark.kryo.registrator", KryoRegistration.class.getName());
        s.put("spark.kryoserializer.buffer.max", "2047m");
        s.put("spark.driver.maxResultSize", "0");
        return s;
    }

    /**
     * Whether a session was made with sparseft's serialization (a {@code spark-shell} or notebook started without the
     * {@link #settings} was not): without it, the first task would fail deep inside Spark with
     * NotSerializableException.
     */
    public static boolean hasSerialization(SparkSession spark) {
        SparkConf conf = spark.sparkContext().getConf();
        boolean kryo = KRYO.equals(conf.get("spark.serializer", ""));
        boolean registered = java.util.Arrays.stream(conf.get("spark.kryo.registrator", "").split(","))
                .map(String::trim).anyMatch(KryoRegistration.class.getName()::equals);
        return kryo && registered;
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
