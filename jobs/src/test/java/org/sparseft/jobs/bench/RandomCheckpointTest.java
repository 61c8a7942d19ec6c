package org.sparseft.jobs.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.data.TokenFiles;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.safetensors.DType;
import org.sparseft.jobs.Main;
import org.sparseft.jobs.service.Progress;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.ModelConfig;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code sparseft bench checkpoint}'s writer on small shapes (the named ones are 0.25-13 GB): an HF checkpoint that
 * validates, in shards, with the asked dtype, initialisation statistics and the same bytes for the same seed.
 */
class RandomCheckpointTest {
    private static final Storage STORAGE = HadoopStorage.withDefaults();
    /** GQA (4 heads, 2 KV), untied head; one chunk boundary falls inside the embedding (97·128 > 2^13). */
    private static final LlamaConfig LLAMA = LlamaConfig.of(97, 64, 128, 352, 2, 4, 2, false);
    private static final Gpt2Config GPT2 = Gpt2Config.of(97, 64, 64, 2, 4);

    @TempDir
    Path tmp;

    @Test
    void llamaInBf16IsAShardedCheckpointWithInitialisationStatistics() throws Exception {
        checkCheckpoint(LLAMA, RandomCheckpoint.Precision.BF16);
    }

    @Test
    void gpt2InF32KeepsConv1DWeightsInStoredLayout() throws Exception {
        checkCheckpoint(GPT2, RandomCheckpoint.Precision.F32);
    }

    @Test
    void llamaInF16() throws Exception {
        checkCheckpoint(LLAMA, RandomCheckpoint.Precision.F16);
    }

    private void checkCheckpoint(ModelConfig cfg, RandomCheckpoint.Precision precision) throws Exception {
        String dir = tmp.resolve("out").toUri().toString();
        long shardBytes = 60_000;
        RandomCheckpoint.Summary s = RandomCheckpoint.write(STORAGE, dir, cfg, precision, 7, shardBytes, 3, 16,
                false, quiet());
        assertEquals(cfg.parameterCount(), s.parameters());
        assertEquals(cfg.parameterCount() * precision.dtype().bytes(), s.tensorBytes());
        assertTrue(s.bytesOnDisk() > s.tensorBytes(), "headers, config and tokens are on disk too: " + s);
        assertTrue(Files.exists(tmp.resolve("out/_SUCCESS")));

        String model = dir + "/" + RandomCheckpoint.MODEL;
        try (HfCheckpoint c = HfCheckpoint.open(STORAGE, model)) {
            c.validateAgainstConfig();
            assertEquals(cfg, c.model());
            assertTrue(c.shardFiles().size() > 2, "sharded: " + c.shardFiles());
            String torchDtype = Json.MAPPER.readTree(Files.readString(tmp.resolve("out/model/config.json")))
                    .get("torch_dtype").asText();
            assertEquals(precision.torchDtype(), torchDtype);
            double residualStd = 0.02 / Math.sqrt(2.0 * cfg.numLayers());
            for (Map.Entry<String, long[]> e : cfg.expectedTensors().entrySet()) {
                String name = e.getKey();
                assertArrayEquals(e.getValue(), c.info(name).shape(), name);
                assertEquals(precision.dtype(), c.info(name).dtype(), name);
                float[] v = c.readFloats(name);
                if (e.getValue().length == 1) {
                    float want = name.endsWith("norm.weight") || name.contains(".ln_") && name.endsWith(".weight")
                            ? 1f : 0f;
                    for (float x : v) {
                        assertEquals(want, x, 0f, name);
                    }
                } else {
                    double std = cfg instanceof Gpt2Config && name.endsWith("c_proj.weight") ? residualStd : 0.02;
                    double mean = 0;
                    for (float x : v) {
                        mean += x;
                    }
                    mean /= v.length;
                    double var = 0;
                    for (float x : v) {
                        var += (x - mean) * (x - mean);
                    }
                    double sd = Math.sqrt(var / v.length);
                    // 6 standard errors: never flaky for a fixed seed, and still a tight check at these sizes
                    assertEquals(0, mean, 6 * std / Math.sqrt(v.length), name + " mean");
                    assertEquals(std, sd, std * (6 / Math.sqrt(2.0 * v.length) + 0.01), name + " std");
                }
            }
        }
        List<int[]> blocks = TokenFiles.read(STORAGE, dir + "/" + RandomCheckpoint.CALIBRATION, cfg.vocabSize());
        assertEquals(3, blocks.size());
        blocks.forEach(b -> assertEquals(16, b.length));
    }

    @Test
    void theSameSeedWritesTheSameBytesAndAnotherSeedOthers() throws Exception {
        Map<String, byte[]> a = writeAndRead("a", 11);
        Map<String, byte[]> b = writeAndRead("b", 11);
        Map<String, byte[]> c = writeAndRead("c", 12);
        assertEquals(a.keySet(), b.keySet());
        a.forEach((file, bytes) -> assertArrayEquals(bytes, b.get(file), file));
        String shard = a.keySet().stream().filter(f -> f.startsWith("model/model-00001-of-")).findFirst().orElseThrow();
        assertFalse(java.util.Arrays.equals(a.get(shard), c.get(shard)), shard);
        assertFalse(java.util.Arrays.equals(a.get("calibration.safetensors"), c.get("calibration.safetensors")));
    }

    private Map<String, byte[]> writeAndRead(String name, long seed) throws Exception {
        Path dir = tmp.resolve(name);
        RandomCheckpoint.write(STORAGE, dir.toUri().toString(), GPT2, RandomCheckpoint.Precision.BF16, seed,
                100_000, 2, 8, false, quiet());
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.filter(Files::isRegularFile).toList()) {
                files.put(dir.relativize(p).toString(), Files.readAllBytes(p));
            }
        }
        assertTrue(files.containsKey("model/model.safetensors.index.json"), files.keySet().toString());
        return files;
    }

    @Test
    void anExistingOutIsRefusedWithoutForceAndNamedByItsOption() throws Exception {
        Path out = Files.createDirectories(tmp.resolve("taken"));
        StringWriter err = new StringWriter();
        int code = Main.run(new String[] {"bench", "checkpoint", "--shape", "gpt2-small", "--out", out.toString()},
                new PrintWriter(Writer.nullWriter()), new PrintWriter(err, true));
        assertEquals(Main.BAD_INPUT, code, err.toString());
        assertTrue(err.toString().contains("--out " + out + ": already exists (use --force"), err.toString());

        err = new StringWriter();
        code = Main.run(new String[] {"bench", "checkpoint", "--shape", "llama-3-8b", "--out", out.toString()},
                new PrintWriter(Writer.nullWriter()), new PrintWriter(err, true));
        assertEquals(Main.BAD_INPUT, code, err.toString());
        assertTrue(err.toString().contains("tinyllama-1.1b, llama-2-7b, gpt2-small"), err.toString());
    }

    @Test
    void theNamedShapesAreThePublishedOnes() {
        assertEquals(1_100_048_384L, CheckpointShape.TINYLLAMA_1_1B.config().parameterCount());
        assertEquals(6_738_415_616L, CheckpointShape.LLAMA_2_7B.config().parameterCount());
        assertEquals(124_439_808L, CheckpointShape.GPT2_SMALL.config().parameterCount());
    }

    /**
     * Memory holds about one tensor: GPT-2 small in float32 (498 MB on disk, its largest tensor 154 MB) is written by
     * the command in a JVM with a 320 MB heap, which could not hold the whole model.
     */
    @Test
    void aCheckpointLargerThanTheHeapIsWrittenTensorByTensor() throws Exception {
        Path out = tmp.resolve("gpt2-small");
        Path log = tmp.resolve("bench.log");
        Process p = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx320m", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "bench", "checkpoint",
                "--shape", "gpt2-small", "--dtype", "f32", "--shard-bytes", "0", "--out", out.toString()))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "bench checkpoint finished");
        String text = Files.readString(log);
        assertEquals(0, p.exitValue(), text);
        assertTrue(text.contains("gpt2-small: 124,439,808 parameters, f32"), text);
        assertTrue(Files.size(out.resolve("model/model.safetensors")) > 497_000_000L, text);
        try (HfCheckpoint c = HfCheckpoint.open(STORAGE, out.resolve("model").toUri().toString())) {
            c.validateAgainstConfig();
            float[] wte = c.readFloats("transformer.wte.weight"); // 154 MB: read in several chunks
            assertEquals(50257L * 768, wte.length);
            assertEquals(0.02, Math.sqrt(sumOfSquares(wte) / wte.length), 0.0002);
        }
    }

    private static double sumOfSquares(float[] v) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        return s;
    }

    private static Progress quiet() {
        return new Progress(new PrintWriter(Writer.nullWriter()));
    }
}
