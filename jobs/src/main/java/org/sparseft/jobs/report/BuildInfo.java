package org.sparseft.jobs.report;

import java.io.IOException;
import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * The versions behind a result: what sparseft was built from (build.properties, filled in by Maven) and what it
 * runs on now (the JVM, the Spark and Hadoop on the class path, which a cluster may supply, and ND4J's backend).
 */
public record BuildInfo(String sparseft, String sparkBuilt, String hadoopBuilt, String nd4j, String java,
                        String spark, String hadoop, String nd4jBackend) {
    private static final String RESOURCE = "/org/sparseft/jobs/build.properties";

    /** The versions now; loads ND4J's backend if nothing has yet. */
    public static BuildInfo current() {
        Properties p = built();
        return new BuildInfo(p.getProperty("sparseft", "unknown"), p.getProperty("spark", "unknown"),
                p.getProperty("hadoop", "unknown"), p.getProperty("nd4j", "unknown"),
                System.getProperty("java.vendor") + " " + Runtime.version(), org.apache.spark.package$.MODULE$
                .SPARK_VERSION(), org.apache.hadoop.util.VersionInfo.getVersion(),
                org.nd4j.linalg.factory.Nd4j.getBackend().getClass().getSimpleName());
    }

    /** This build's version alone (cheap: no Spark or ND4J class is touched). */
    public static String sparseftVersion() {
        return built().getProperty("sparseft", "unknown");
    }

    private static Properties built() {
        Properties p = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream(RESOURCE)) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("reading " + RESOURCE, e);
        }
        return p;
    }

    /** As the report's {@code versions} object. */
    public Map<String, String> asMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("sparseft", sparseft);
        m.put("java", java);
        m.put("spark", spark);
        m.put("spark_built_against", sparkBuilt);
        m.put("hadoop", hadoop);
        m.put("hadoop_built_against", hadoopBuilt);
        m.put("nd4j", nd4j);
        m.put("nd4j_backend", nd4jBackend);
        return m;
    }
}
