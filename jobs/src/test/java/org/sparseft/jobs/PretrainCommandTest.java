package org.sparseft.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PretrainCommandTest {
    @TempDir
    Path tmp;

    /** A 2-layer LLaMA config.json of width 32 with a byte vocabulary. */
    private Path tinyConfig() throws Exception {
        Path config = tmp.resolve("config.json");
        Files.writeString(config, HfConfig.of(LlamaConfig.of(257, 32, 32, 64, 2, 4, 2, true), "float32").toJsonText());
        return config;
    }

    @Test
    void trainsSavesAnHfCheckpointWithProvenanceThatEvaluateReads() throws Exception {
        Path config = tinyConfig();
        Path text = tmp.resolve("train.txt");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 30; i++) {
            sb.append("The quick brown fox jumps over the lazy dog, time number ").append(i).append(".\n\n");
        }
        Files.writeString(text, sb.toString());
        Path out = tmp.resolve("model");
        Cli r = Cli.run("pretrain", "--config", config.toString(), "--data", text.toString(), "--validation",
                text.toString(), "--out", out.toString(), "--steps", "12", "--batch", "4", "--seqlen", "32",
                "--lr", "3e-3", "--warmup", "2", "--eval-every", "6", "--dtype", "bf16", "--master", "local[2]");
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.err().contains("step 12/12 loss"), r.err());
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json", "training.json", "_SUCCESS"}) {
            assertTrue(Files.exists(out.resolve(f)), f);
        }
        JsonNode training = new ObjectMapper().readTree(Files.readString(out.resolve("training.json")));
        assertEquals(12, training.get("steps").asInt());
        assertTrue(training.get("command").asText().startsWith("sparseft --config") || training.get("command").asText()
                .contains("--steps 12"), training.get("command").asText());
        double first = training.get("metrics").get(0).get("loss").asDouble();
        assertTrue(training.get("final_train_loss").asDouble() < first, "loss went down");
        try (HfCheckpoint c = HfCheckpoint.open(HadoopStorage.withDefaults(), out.toString())) {
            assertEquals(DType.BF16, c.info("model.embed_tokens.weight").dtype());
            assertEquals("bfloat16", c.config().json().get("torch_dtype").asText());
        }
        Cli eval = Cli.run("evaluate", "--model", out.toString(), "--data", text.toString(), "--seqlen", "32",
                "--master", "local[1]");
        assertEquals(0, eval.exitCode(), eval.toString());
        assertTrue(eval.out().contains("perplexity"), eval.out());
    }

    @Test
    void initContinuesFromACheckpointsWeightsAndRefusesAnotherArchitecture() throws Exception {
        Path config = tinyConfig();
        Path text = tmp.resolve("train.txt");
        Files.writeString(text, "The quick brown fox jumps over the lazy dog again and again.\n\n".repeat(20));
        Path first = tmp.resolve("first");
        Cli a = Cli.run("pretrain", "--config", config.toString(), "--data", text.toString(), "--out",
                first.toString(), "--steps", "6", "--batch", "4", "--seqlen", "32", "--lr", "3e-3", "--warmup", "1",
                "--eval-every", "0", "--master", "local[1]");
        assertEquals(0, a.exitCode(), a.toString());
        // a vanishing learning rate: the continued model must still be the first one, not a fresh initialisation
        Path next = tmp.resolve("next");
        Cli b = Cli.run("pretrain", "--init", first.toString(), "--config", config.toString(), "--data",
                text.toString(), "--out", next.toString(), "--steps", "1", "--batch", "4", "--seqlen", "32", "--lr",
                "1e-12", "--warmup", "0", "--eval-every", "0", "--seed", "5", "--master", "local[1]");
        assertEquals(0, b.exitCode(), b.toString());
        try (HfCheckpoint x = HfCheckpoint.open(HadoopStorage.withDefaults(), first.toString());
             HfCheckpoint y = HfCheckpoint.open(HadoopStorage.withDefaults(), next.toString())) {
            for (String name : x.tensorNames()) {
                float[] u = x.readFloats(name);
                float[] v = y.readFloats(name);
                for (int i = 0; i < u.length; i++) {
                    assertEquals(u[i], v[i], 1e-6, name + "[" + i + "]");
                }
            }
        }
        Path other = tmp.resolve("other.json");
        Files.writeString(other, HfConfig.of(LlamaConfig.of(257, 32, 32, 64, 3, 4, 2, true), "float32").toJsonText());
        Cli c = Cli.run("pretrain", "--init", first.toString(), "--config", other.toString(), "--data",
                text.toString(), "--out", tmp.resolve("refused").toString(), "--steps", "1", "--batch", "4",
                "--seqlen", "32", "--master", "local[1]");
        assertEquals(2, c.exitCode(), c.toString());
        assertTrue(c.err().contains(first.toString()) && c.err().contains("architecture"), c.err());
        assertTrue(!Files.exists(tmp.resolve("refused")));
    }

    @Test
    void divergenceStopsWithExitCode3NamingTheStepAndWritesNoModel() throws Exception {
        Path config = tinyConfig();
        Path text = tmp.resolve("t.txt");
        Files.writeString(text, "Plenty of words for a few blocks of sixteen bytes each.\n".repeat(10));
        Path out = tmp.resolve("m");
        Cli r = Cli.run("pretrain", "--config", config.toString(), "--data", text.toString(), "--out", out.toString(),
                "--seqlen", "16", "--batch", "2", "--steps", "20", "--warmup", "0", "--lr", "1e30", "--clip", "0",
                "--checkpoint-every", "1", "--eval-every", "0", "--master", "local[2]");
        assertEquals(3, r.exitCode(), r.toString());
        assertTrue(r.err().matches("(?s).*step \\d+: non-finite.*last good checkpoint is .*step-\\d{7}.*"), r.err());
        assertTrue(!Files.exists(out), "no model written");
    }

    @Test
    void seqlenBeyondTheConfigIsBadInput() throws Exception {
        Path config = tinyConfig();
        Path text = tmp.resolve("t.txt");
        Files.writeString(text, "hello\n");
        Cli r = Cli.run("pretrain", "--config", config.toString(), "--data", text.toString(), "--out",
                tmp.resolve("m").toString(), "--seqlen", "64");
        assertEquals(2, r.exitCode(), r.toString());
        assertTrue(r.err().contains("--seqlen 64 exceeds the config's 32 positions"), r.err());
    }

    @Test
    void shardedSyncWithMorePartitionsThanTensorsIsBadInputBeforeAnythingIsWritten() throws Exception {
        Path config = tinyConfig();
        Path text = tmp.resolve("t.txt");
        Files.writeString(text, "Plenty of words for many blocks of sixteen bytes each.\n".repeat(40));
        Path out = tmp.resolve("m");
        int tensors = Parameters.computeShapes(LlamaConfig.of(257, 32, 32, 64, 2, 4, 2, true)).size();
        int partitions = 32;
        assertTrue(partitions > tensors);
        Cli r = Cli.run("pretrain", "--config", config.toString(), "--data", text.toString(), "--out", out.toString(),
                "--seqlen", "16", "--batch", "32", "--partitions", "32", "--steps", "2", "--sync", "sharded",
                "--master", "local[2]");
        assertEquals(2, r.exitCode(), r.toString());
        assertTrue(r.err().contains("--partitions 32 is more than the " + tensors + " trained tensors"), r.err());
        assertTrue(!Files.exists(out) && !Files.exists(tmp.resolve("m.run")), "nothing written");
    }
}
