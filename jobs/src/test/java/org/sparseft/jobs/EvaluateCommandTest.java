package org.sparseft.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsFile;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.testing.TinyCheckpoints;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EvaluateCommandTest {
    @TempDir
    Path tmp;

    @Test
    void perplexityIsTheSameWhateverThePartitioningAndLogitsCanBeDumped() throws Exception {
        Storage storage = HadoopStorage.withDefaults();
        Path model = tmp.resolve("model");
        TinyCheckpoints.write(storage, model.toString(), TinyCheckpoints.gpt2(), DType.F32, 0, 5);
        Path text = tmp.resolve("text.txt");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            sb.append("Sentence number ").append(i).append(" of a small evaluation text.\n\n");
        }
        Files.writeString(text, sb.toString());
        Path json = tmp.resolve("ppl.json");
        Path dump = tmp.resolve("logits.safetensors");
        Cli one = Cli.run("evaluate", "--model", model.toString(), "--data", text.toString(), "--seqlen", "16",
                "--master", "local[1]", "--out", json.toString(), "--dump-logits", dump.toString());
        assertEquals(0, one.exitCode(), one.toString());
        Cli three = Cli.run("evaluate", "--model", model.toString(), "--data", text.toString(), "--seqlen", "16",
                "--master", "local[3]", "--batch", "3");
        assertEquals(0, three.exitCode(), three.toString());
        String pplLine = one.out().lines().filter(l -> l.startsWith("perplexity")).findFirst().orElseThrow();
        assertTrue(three.out().contains(pplLine), "same figure with 1 or 3 partitions: " + pplLine + "\n" + three.out());
        Cli firstFive = Cli.run("evaluate", "--model", model.toString(), "--data", text.toString(), "--seqlen", "16",
                "--master", "local[2]", "--max-windows", "5");
        assertEquals(0, firstFive.exitCode(), firstFive.toString());
        assertTrue(firstFive.out().contains("windows     5 x 16 tokens"), firstFive.out());

        JsonNode r = new ObjectMapper().readTree(Files.readString(json));
        double ppl = r.get("perplexity").asDouble();
        assertTrue(ppl > 200 && ppl < 300, "an untrained model is near-uniform over 257 tokens: " + ppl);
        assertEquals(16, r.get("seqlen").asInt());

        try (SafetensorsFile f = SafetensorsFile.open(storage, dump.toString());
             HfCheckpoint c = HfCheckpoint.open(storage, model.toString())) {
            assertArrayEquals(new long[] {2, 16, 257}, f.info("logits").shape());
            long[] ids = f.readIntegers("input_ids");
            int[] tokens = new int[ids.length];
            for (int i = 0; i < ids.length; i++) {
                tokens[i] = (int) ids[i];
            }
            float[] expected = DecoderModel.of(c.parameters(DataType.FLOAT))
                    .logits(tokens, 2, 16, EffectiveWeights.DENSE).data().asFloat();
            assertArrayEquals(expected, f.readFloats("logits"), 0f);
            assertEquals('S', tokens[0], "first window starts the text");
        }
    }

    @Test
    void seqlenBeyondTheModelIsBadInput() throws Exception {
        Path model = tmp.resolve("model");
        TinyCheckpoints.write(HadoopStorage.withDefaults(), model.toString(), TinyCheckpoints.gpt2(), DType.F32, 0, 5);
        Path text = tmp.resolve("t.txt");
        Files.writeString(text, "hello\n");
        Cli r = Cli.run("evaluate", "--model", model.toString(), "--data", text.toString(), "--seqlen", "64");
        assertEquals(2, r.exitCode(), r.toString());
        assertTrue(r.err().contains("--seqlen 64") && r.err().contains("2..32"), r.err());
    }
}
