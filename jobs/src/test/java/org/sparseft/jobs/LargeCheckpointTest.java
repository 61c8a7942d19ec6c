package org.sparseft.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.model.LlamaConfig;
import org.sparseft.testing.TinyCheckpoints;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A checkpoint several times larger than the heap is read tensor by tensor: {@code inspect} reads every value of a
 * 161 MB checkpoint in a JVM with a 64 MB heap.
 */
class LargeCheckpointTest {
    @TempDir
    Path tmp;

    @Test
    void aCheckpointLargerThanTheHeapIsReadTensorByTensor() throws Exception {
        LlamaConfig big = LlamaConfig.of(257, 64, 1024, 2048, 4, 8, 8, true);
        Path model = tmp.resolve("big");
        HfCheckpointWriter.write(HadoopStorage.withDefaults(), model.toString(), HfConfig.of(big, "float32"),
                TinyCheckpoints.randomTensors(big, DType.F32, 5), Map.of(), Map.of(), 0, true);
        long bytes = Files.size(model.resolve("model.safetensors"));
        assertTrue(bytes > 160_000_000L, "the checkpoint is " + bytes + " bytes");

        Path log = tmp.resolve("inspect.log");
        Process p = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "inspect", "--model",
                model.toString())).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "inspect finished");
        String out = Files.readString(log);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("model.layers.3.mlp.down_proj.weight"), out);
        assertTrue(!out.contains("OutOfMemoryError"), out);
    }
}
