package org.sparseft.jobs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.InvalidSettingException;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.prune.LayerwisePruner;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsFile;
import org.sparseft.jobs.prune.PruneResult;
import org.sparseft.jobs.prune.PruneSpec;
import org.sparseft.jobs.spec.SpecBinding;
import org.sparseft.model.ModelConfig;
import org.sparseft.sparsity.DSnoT;
import org.sparseft.testing.TinyCheckpoints;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Java API as a Spark application uses it: specs made by their builders, run on the application's own local
 * session (which the jobs leave running), with the same results as the command line.
 */
class SparseFTTest {
    @TempDir
    static Path tmp;
    private static SparkSession spark;
    private static final Storage STORAGE = HadoopStorage.withDefaults();
    private static final ModelConfig LLAMA = TinyCheckpoints.llama();

    @BeforeAll
    static void start() throws Exception {
        spark = SparkSessions.create("SparseFTTest", "local[2]", Map.of());
        TinyCheckpoints.write(STORAGE, tmp.resolve("model").toString(), LLAMA, DType.BF16, 0, 3);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            text.append("Calibration sentence ").append(i).append(" about juries, elections and the city.\n\n");
        }
        Files.writeString(tmp.resolve("calib.txt"), text.toString());
    }

    @AfterAll
    static void stop() {
        SparkSessions.stop(spark);
    }

    private static PruneSpec.Builder wanda24(String out) {
        return PruneSpec.builder().model(tmp.resolve("model").toString()).out(tmp.resolve(out).toString())
                .method(LayerwisePruner.Method.WANDA).pattern("2:4").calib(tmp.resolve("calib.txt").toString())
                .tokenizer("byte").nsamples(8).seqlen(16).partitions(2);
    }

    @Test
    void pruneThroughTheApiWritesTheSameMasksAsTheCommandLineAndLeavesTheSessionRunning() throws Exception {
        PruneResult r = SparseFT.prune(spark, wanda24("api").build());
        assertEquals(0.5, r.globalSparsity(), 1e-12);
        assertEquals(LLAMA.prunableWeights().size(), r.prunedLinears());
        assertEquals("2:4", r.target());
        assertEquals(8, r.sequences());
        assertEquals("SparseFT.prune (Java API)", r.sparsity().provenance().command());
        assertEquals("2:4", r.sparsity().provenance().structure());
        assertTrue(!spark.sparkContext().isStopped(), "the caller's session is still running");

        Cli cli = Cli.run("prune", "--model", tmp.resolve("model").toString(), "--out", tmp.resolve("cli").toString(),
                "--method", "wanda", "--pattern", "2:4", "--calib", tmp.resolve("calib.txt").toString(),
                "--tokenizer", "byte", "--nsamples", "8", "--seqlen", "16", "--partitions", "2",
                "--master", "local[2]");
        assertEquals(0, cli.exitCode(), cli.toString());
        try (SafetensorsFile api = SafetensorsFile.open(STORAGE, tmp.resolve("api/masks.safetensors").toString());
             SafetensorsFile cmd = SafetensorsFile.open(STORAGE, tmp.resolve("cli/masks.safetensors").toString())) {
            List<String> names = api.tensors().stream().map(t -> t.name()).toList();
            assertEquals(cmd.tensors().stream().map(t -> t.name()).toList(), names);
            for (String name : names) {
                long[] keep = api.readIntegers(name);
                assertArrayEquals(cmd.readIntegers(name), keep, name);
                for (int g = 0; g < keep.length; g += 4) { // stored [out, in] rows: 2 kept in every 4 inputs
                    assertEquals(2, keep[g] + keep[g + 1] + keep[g + 2] + keep[g + 3], name + " group " + g / 4);
                }
            }
        }
    }

    @Test
    void settingsOutOfRangeAreRefusedNamingTheirKeyBeforeAnythingRuns() {
        InvalidSettingException e = assertThrows(InvalidSettingException.class,
                () -> wanda24("x").pattern(null).sparsity(1.5).build());
        assertEquals(List.of("sparsity"), e.settings());
        assertEquals("sparsity 1.5: expected a fraction in [0, 1)", e.getMessage());
        assertEquals("--sparsity 1.5: expected a fraction in [0, 1)", e.render(k -> "--" + k));

        e = assertThrows(InvalidSettingException.class, () -> wanda24("x").dsnotMaxCycles(3).build());
        assertEquals("dsnot-max-cycles applies to method dsnot, not wanda", e.getMessage());

        e = assertThrows(InvalidSettingException.class, () -> wanda24("x").sparsity(0.5).build());
        assertEquals(List.of("sparsity", "pattern"), e.settings(), e.getMessage());
        assertTrue(!Files.exists(tmp.resolve("x")));
    }

    @Test
    void settingsByKeyBindToTheSameSpecAsTheBuilder() {
        ObjectNode settings = SpecBinding.settings().put("model", "m").put("out", "o").put("method", "DSnoT")
                .put("sparsity", "0.6").put("tokens", "t.safetensors").put("dsnot-max-cycles", "7")
                .put("dsnot-skip-layer", "attn").put("calib-batch", 4);
        PruneSpec bound = SpecBinding.bind(settings, PruneSpec.class);
        PruneSpec built = PruneSpec.builder().model("m").out("o").method(LayerwisePruner.Method.DSNOT).sparsity(0.6)
                .tokens("t.safetensors").dsnotMaxCycles(7).dsnotSkipLayer(DSnoT.SkipLayers.ATTN)
                .calibBatch(4).build();
        assertEquals(built.toString(), bound.toString());
        assertEquals(128, bound.nsamples(), "a key not given keeps the builder's default");

        InvalidSettingException unknown = assertThrows(InvalidSettingException.class,
                () -> SpecBinding.bind(settings.deepCopy().put("nsample", 3), PruneSpec.class));
        assertEquals(List.of("nsample"), unknown.settings());
        assertTrue(unknown.getMessage().contains("nsamples"), unknown.getMessage());
        InvalidSettingException type = assertThrows(InvalidSettingException.class,
                () -> SpecBinding.bind(settings.deepCopy().put("nsamples", "many"), PruneSpec.class));
        assertEquals("nsamples: 'many' is not an integer", type.getMessage());
        InvalidSettingException name = assertThrows(InvalidSettingException.class,
                () -> SpecBinding.bind(settings.deepCopy().put("method", "obs"), PruneSpec.class));
        assertEquals("method obs: expected magnitude, wanda, dsnot or sparsegpt", name.getMessage());
    }
}
