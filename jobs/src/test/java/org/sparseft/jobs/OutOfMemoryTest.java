package org.sparseft.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.model.LlamaConfig;
import org.sparseft.testing.TinyCheckpoints;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Running out of memory ends the command line with exit code 3 and one line saying what to raise, within a bounded
 * time, whether the heap runs out on the driver while Spark's threads run or inside a Spark task (local mode, where
 * Spark would otherwise exit with its own code 52). Each case runs the real entry point in a child JVM with a small
 * heap; {@code spark.testing.memory} lets Spark start below the 450 MB it otherwise insists on.
 */
class OutOfMemoryTest {
    /** Ample for either case (20 to 60 s on 2 busy cores), and far below a hang. */
    private static final long LIMIT_SECONDS = 240;

    @TempDir
    Path tmp;

    @Test
    void theDriverRunningOutOfHeapWhileSparkRunsExitsThreeWithOneLine() throws Exception {
        // A billion layers: a legitimately huge model (nothing to check it against) whose parameter list alone
        // fills any heap, on the driver's main thread, after Spark has started.
        Path config = tmp.resolve("config.json");
        Files.writeString(config, HfConfig.of(LlamaConfig.of(257, 64, 16, 32, 1_000_000_000, 2, 1, true), "float32")
                .toJsonText());
        Path text = tmp.resolve("text.txt");
        Files.writeString(text, "The jury said it did find that many of the laws are outmoded.\n".repeat(8));
        Path out = tmp.resolve("model");
        Child c = Child.run(tmp, "pretrain", "--config", config.toString(), "--data", text.toString(), "--out",
                out.toString(), "--seqlen", "8", "--steps", "1");
        c.assertOutOfMemoryLine("sparseft: out of memory (Java heap space", ") in pretrain; raise the driver memory");
        assertFalse(Files.exists(out), "no model written");
    }

    @Test
    void aSparkTaskRunningOutOfMemoryInLocalModeExitsThreeWithOneLine() throws Exception {
        // Logits of 64 windows x 64 tokens x 50,000 tokens per forward pass: 819 MB, inside a Spark task, twice. The
        // first pass fits (its loss is computed in place); the second starts with the process far above the
        // native-memory limit a 192 MB heap implies, and its first native allocation is refused.
        LlamaConfig wide = LlamaConfig.of(50_000, 64, 16, 32, 1, 2, 1, true);
        Path model = tmp.resolve("wide");
        HfCheckpointWriter.write(HadoopStorage.withDefaults(), model.toString(), HfConfig.of(wide, "float16"),
                TinyCheckpoints.randomTensors(wide, DType.F16, 3), Map.of(), Map.of(), 0, true);
        StringBuilder ids = new StringBuilder();
        for (int i = 0; i <= 2 * 64 * 64; i++) {
            ids.append(i % 250).append(' ');
        }
        Path tokens = tmp.resolve("ids.txt");
        Files.writeString(tokens, ids.toString().strip() + "\n");
        Path result = tmp.resolve("ppl.json");
        Child c = Child.run(tmp, "evaluate", "--model", model.toString(), "--tokens", tokens.toString(), "--seqlen",
                "64", "--batch", "64", "--out", result.toString());
        c.assertOutOfMemoryLine("sparseft: out of memory (", ") in a Spark task of evaluate; raise the executor"
                + " memory");
        assertFalse(Files.exists(result), "no result written");
    }

    /** The CLI in a JVM of 192 MB heap, local[1]; its exit code and what it printed. */
    private record Child(int exitCode, String output, long seconds) {
        static Child run(Path dir, String... args) throws Exception {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                    .toString()));
            for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) { // the --add-opens Spark needs
                if (!a.startsWith("-Xmx") && !a.startsWith("-Xms") && !a.startsWith("-agentlib")
                        && !a.startsWith("-javaagent")) {
                    cmd.add(a);
                }
            }
            cmd.addAll(List.of("-Xmx192m", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
            cmd.addAll(List.of(args));
            cmd.addAll(List.of("--master", "local[1]", "--conf", "spark.testing.memory=536870912"));
            Path log = dir.resolve("child.log");
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            boolean ended = p.waitFor(LIMIT_SECONDS, TimeUnit.SECONDS);
            if (!ended) {
                p.destroyForcibly().waitFor();
            }
            String output = Files.readString(log);
            assertTrue(ended, "the process ended within " + LIMIT_SECONDS + " s:\n" + output);
            return new Child(p.exitValue(), output, (System.nanoTime() - t0) / 1_000_000_000L);
        }

        void assertOutOfMemoryLine(String starts, String contains) {
            assertEquals(Main.RUNTIME_FAILURE, exitCode, output);
            List<String> lines = output.lines().filter(l -> !l.isBlank()).toList();
            String last = lines.get(lines.size() - 1);
            assertTrue(last.startsWith(starts) && last.contains(contains), "the last line: " + last);
            assertEquals(1, lines.stream().filter(l -> l.startsWith("sparseft:")).count(), "one line:\n" + output);
            assertFalse(output.contains("Exception in thread"), "no thread's stack trace:\n" + output);
        }
    }
}
