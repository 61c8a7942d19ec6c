package org.sparseft.jobs;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.BadInputException;
import org.sparseft.driver.prune.LayerwisePruner;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.safetensors.DType;
import org.sparseft.jobs.prune.PruneResult;
import org.sparseft.jobs.prune.PruneSpec;
import org.sparseft.testing.TinyCheckpoints;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Java API on sessions the application builds itself, as the README shows: with {@link SparseFT#sparkSettings()}
 * a job runs; without them (a plain {@code spark-shell}) it is refused up front, naming the settings, instead of
 * failing inside Spark with NotSerializableException.
 */
class SparseFTSessionTest {
    @TempDir
    Path tmp;

    private PruneSpec spec(String out) throws Exception {
        TinyCheckpoints.write(HadoopStorage.withDefaults(), tmp.resolve("model").toString(), TinyCheckpoints.llama(),
                DType.BF16, 0, 3);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            text.append("Calibration sentence ").append(i).append(" about juries, elections and the city.\n\n");
        }
        Files.writeString(tmp.resolve("calibration.txt"), text.toString());
        return PruneSpec.builder().model(tmp.resolve("model").toString()).out(tmp.resolve(out).toString())
                .method(LayerwisePruner.Method.WANDA).pattern("2:4").calib(tmp.resolve("calibration.txt").toString())
                .tokenizer("byte").nsamples(8).seqlen(16).build();
    }

    @Test
    void theReadmeExampleRunsOnASessionBuiltWithSparseftsSettings() throws Exception {
        PruneSpec spec = spec("pruned");
        // the README's example, with local paths and a tiny model
        SparkSession.Builder builder = SparkSession.builder().appName("prune-llama").master("local[2]");
        SparseFT.sparkSettings().forEach(builder::config);
        SparkSession spark = builder.getOrCreate();
        try {
            PruneResult r = SparseFT.prune(spark, spec);
            assertEquals("2:4", r.target());
            assertEquals(0.5, r.globalSparsity(), 1e-12);
            assertTrue(Files.exists(tmp.resolve("pruned").resolve("masks.safetensors")));
        } finally {
            spark.stop();
        }
    }

    @Test
    void aSessionWithoutSparseftsSerializationIsRefusedNamingTheSettingsAndNothingIsWritten() throws Exception {
        PruneSpec spec = spec("never");
        SparkSession spark = SparkSession.builder().appName("plain").master("local[2]").getOrCreate();
        try {
            BadInputException e = assertThrows(BadInputException.class, () -> SparseFT.prune(spark, spec));
            assertTrue(e.getMessage().contains("--conf spark.serializer=org.apache.spark.serializer.KryoSerializer"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("--conf spark.kryo.registrator=org.sparseft.driver.KryoRegistration"),
                    e.getMessage());
            assertFalse(Files.exists(tmp.resolve("never")));
        } finally {
            spark.stop();
        }
    }
}
