package org.sparseft.deploy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shipped spark-defaults examples read as spark-submit reads a properties file, and name what sparseft needs:
 * Kryo with registration required and a registrator that exists, one task per executor with as many BLAS threads
 * as it has cores, and no dynamic allocation on the clusters.
 */
class SparkConfigsTest {
    private static final Path CONF = Path.of(System.getProperty("user.dir")).resolve("conf");

    @ParameterizedTest
    @ValueSource(strings = {"spark-defaults.local.conf", "spark-defaults.standalone.conf", "spark-defaults.yarn.conf",
            "spark-defaults.k8s.conf"})
    void everyExampleConfiguresKryoAndThreadsAsSparseftNeeds(String file) throws Exception {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(CONF.resolve(file))) {
            p.load(r);
        }
        for (String key : p.stringPropertyNames()) {
            assertTrue(key.startsWith("spark."), file + ": " + key + " is not a Spark setting");
            assertTrue(!p.getProperty(key).isBlank(), file + ": " + key + " has no value");
        }
        assertEquals("org.apache.spark.serializer.KryoSerializer", p.getProperty("spark.serializer"), file);
        assertEquals("true", p.getProperty("spark.kryo.registrationRequired"), file);
        String registrator = p.getProperty("spark.kryo.registrator").replace('.', '/') + ".class";
        assertNotNull(SparkConfigsTest.class.getClassLoader().getResource(registrator), file + ": " + registrator);
        assertEquals("2047m", p.getProperty("spark.kryoserializer.buffer.max"), file);
        if (!file.contains("local")) {
            String cores = p.getProperty("spark.executor.cores");
            assertEquals(cores, p.getProperty("spark.task.cpus"), file + ": one task per executor");
            assertEquals(cores, p.getProperty("spark.executorEnv.OMP_NUM_THREADS"), file + ": a BLAS thread per core");
            assertEquals("false", p.getProperty("spark.dynamicAllocation.enabled"), file);
            assertEquals("true", p.getProperty("spark.authenticate"), file);
            assertEquals("true", p.getProperty("spark.network.crypto.enabled"), file);
        }
    }
}
