package org.sparseft.jobs;

import org.apache.spark.sql.SparkSession;
import org.sparseft.driver.SparkSessions;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.Map;

/** Options every Spark command takes, passed through to Spark. */
public final class SparkOptions {
    @Option(names = "--master", paramLabel = "URL",
            description = "Spark master (local[N], spark://host:port, yarn, k8s://...). Default: spark-submit's, else "
                    + SparkSessions.DEFAULT_MASTER + ".")
    String master;

    @Option(names = "--conf", paramLabel = "KEY=VALUE", showDefaultValue = CommandLine.Help.Visibility.NEVER,
            description = "A Spark setting, repeatable (e.g. --conf spark.executor.memory=4g).")
    Map<String, String> conf = new LinkedHashMap<>();

    /** A Spark session with these options, named {@code appName}. */
    public SparkSession session(String appName) {
        return SparkSessions.create(appName, master, conf);
    }
}
