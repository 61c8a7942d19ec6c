package org.sparseft.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import javax.imageio.ImageIO;
import java.nio.file.Files;
import java.util.List;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README's first command in its --quick form, in-process: the real Brown corpus through every stage. */
class DemoTest {
    @TempDir
    Path tmp;

    @Test
    void quickDemoRunsEveryStageAndIsRerunnable() throws Exception {
        Path run = tmp.resolve("demo");
        Cli first = Cli.run("demo", "--quick", "--out", run.toString(), "--master", "local[2]");
        assertEquals(0, first.exitCode(), first.toString());
        assertTrue(first.out().contains("| train | 450 | 20985 |"), first.out());
        assertTrue(Files.exists(run.resolve("data/brown/_SUCCESS")));
        assertTrue(Files.exists(run.resolve("tokens/validation.safetensors")));
        Path pipeline = run.resolve("pipeline-quick");
        JsonNode report = new ObjectMapper().readTree(pipeline.resolve("report.json").toFile());
        List<String> stages = new java.util.ArrayList<>();
        report.get("stages").forEach(s -> stages.add(s.get("name").asText()));
        assertEquals(List.of("data", "prune-wanda", "prune-dsnot", "finetune-ast", "finetune-pst", "evaluate",
                "export"), stages);
        JsonNode ppl = report.get("stages").get(5).get("perplexity");
        for (String m : List.of("dense", "prune-wanda", "prune-dsnot", "finetune-ast", "finetune-pst")) {
            assertTrue(ppl.get(m).asDouble() > 1, m + ": " + ppl);
        }
        assertEquals(0.5, report.get("stages").get(3).get("global_sparsity").asDouble(), 0.0, "AST: exactly 2:4");
        assertTrue(first.out().contains("report: "), first.out());
        assertNotNull(ImageIO.read(pipeline.resolve("val_ppl.png").toFile()));
        assertTrue(Files.exists(pipeline.resolve("export").resolve("_SUCCESS")));

        Cli second = Cli.run("demo", "--quick", "--out", run.toString(), "--master", "local[2]");
        assertEquals(0, second.exitCode(), second.toString());
        assertTrue(second.err().contains("exists, skipped"), second.err());
        assertEquals(7, second.err().split("with the same configuration: skipped", -1).length - 1, second.err());
    }
}
