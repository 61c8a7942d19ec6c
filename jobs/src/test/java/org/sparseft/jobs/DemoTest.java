package org.sparseft.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README's first command, in-process: the real Brown corpus through every stage the demo has. */
class DemoTest {
    @TempDir
    Path tmp;

    @Test
    void demoRunsAndIsRerunnable() throws Exception {
        Path run = tmp.resolve("demo");
        Cli first = Cli.run("demo", "--out", run.toString(), "--master", "local[2]");
        assertEquals(0, first.exitCode(), first.toString());
        assertTrue(first.out().contains("| train | 450 | 20985 |"), first.out());
        assertTrue(Files.exists(run.resolve("data/brown/_SUCCESS")));
        assertTrue(Files.exists(run.resolve("tokens/validation.safetensors")));
        assertTrue(Files.exists(run.resolve("report.md")));

        Cli second = Cli.run("demo", "--out", run.toString(), "--master", "local[2]");
        assertEquals(0, second.exitCode(), second.toString());
        assertTrue(second.err().contains("exists, skipped"), second.err());
    }
}
