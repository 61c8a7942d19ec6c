package org.sparseft.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsFile;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.testing.TinyCheckpoints;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code sparseft finetune --method pst} through real local Spark on tiny GPT-2 and LLaMA checkpoints. */
class FinetuneCommandTest {
    @TempDir
    Path tmp;
    private final Storage storage = HadoopStorage.withDefaults();

    private Path text() throws Exception {
        return text(tmp);
    }

    /** 60 short lines of training text in {@code dir}: enough blocks of 16 byte tokens for a few steps. */
    static Path text(Path dir) throws Exception {
        Path text = dir.resolve("train.txt");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 60; i++) {
            sb.append("Sentence ").append(i % 7).append(" about juries, elections and the city.\n");
        }
        Files.writeString(text, sb.toString());
        return text;
    }

    @Test
    void pstExportsExactSparsityInTheInputLayoutOnBothFamilies() throws Exception {
        Path text = text();
        for (ModelConfig cfg : List.of(TinyCheckpoints.gpt2(), TinyCheckpoints.llama())) {
            Path in = tmp.resolve(cfg.modelType() + "-in");
            DType dtype = cfg.modelType().equals("gpt2") ? DType.F32 : DType.BF16;
            TinyCheckpoints.write(storage, in.toString(), cfg, dtype, 0, 7);
            Path out = tmp.resolve(cfg.modelType() + "-pst");
            Cli r = Cli.run("finetune", "--model", in.toString(), "--out", out.toString(), "--method", "pst",
                    "--sparsity", "0.5", "--data", text.toString(), "--validation", text.toString(), "--seqlen", "16",
                    "--steps", "6", "--batch", "4", "--eval-windows", "4", "--pst-weight-rank", "2",
                    "--pst-mask-rank", "2", "--master", "local[2]");
            assertEquals(0, r.exitCode(), r.toString());
            assertTrue(r.out().contains("validation perplexity"), r.out());
            try (HfCheckpoint a = HfCheckpoint.open(storage, in.toString());
                 HfCheckpoint b = HfCheckpoint.open(storage, out.toString());
                 SafetensorsFile masks = SafetensorsFile.open(storage, out.resolve("masks.safetensors").toString())) {
                assertEquals(a.tensorNames(), b.tensorNames());
                Parameters after = b.parameters(DataType.FLOAT);
                List<String> linears = cfg.prunableWeights();
                for (String stored : a.tensorNames()) {
                    String canonical = HfCheckpoint.canonical(cfg, stored);
                    assertEquals(a.info(stored).dtype(), b.info(stored).dtype(), stored);
                    if (!linears.contains(canonical)) {
                        assertEquals(a.rawBytes(stored), b.rawBytes(stored), stored + " untouched");
                        continue;
                    }
                    long[] m = masks.readIntegers(stored);
                    long kept = java.util.Arrays.stream(m).sum();
                    assertEquals(m.length - (long) Math.floor(m.length * 0.5), kept, canonical + ": whole-matrix 50%");
                    INDArray w = after.get(canonical);
                    long nonZero = w.neq(0).castTo(DataType.INT).sumNumber().longValue();
                    assertTrue(nonZero <= kept, canonical + ": pruned weights are exactly zero");
                }
            }
            JsonNode sparsity = new ObjectMapper().readTree(out.resolve("sparsity.json").toFile());
            assertEquals("pst", sparsity.get("method").asText());
            assertEquals(0.5, sparsity.get("global_sparsity").asDouble(), 0.01);
            assertTrue(sparsity.get("pst").get("trained_fraction").asDouble() > 0);
            assertTrue(sparsity.get("validation").get("perplexity_after").asDouble() > 1);
            assertTrue(Files.exists(out.resolve("_SUCCESS")));
        }
    }

    @Test
    void pstWithOwlReachesEachBlocksOwnSparsityAveragingToTheTarget() throws Exception {
        Path text = text();
        ModelConfig cfg = TinyCheckpoints.llama();
        Path in = tmp.resolve("pst-owl-in");
        TinyCheckpoints.writeTrainedScale(storage, in.toString(), cfg, DType.F32, 11, 0.3);
        Path out = tmp.resolve("pst-owl");
        Cli r = Cli.run("finetune", "--model", in.toString(), "--out", out.toString(), "--method", "pst",
                "--sparsity", "0.5", "--sparsity-profile", "owl", "--owl-m", "2", "--owl-lambda", "0.1",
                "--owl-nsamples", "6", "--data", text.toString(), "--seqlen", "16", "--steps", "4", "--batch", "4",
                "--pst-weight-rank", "2", "--pst-mask-rank", "2", "--master", "local[2]");
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.err().contains("OWL, dense pass over 6 sequences: block 2/2"), r.err());
        JsonNode sparsity = new ObjectMapper().readTree(out.resolve("sparsity.json").toFile());
        JsonNode owl = sparsity.get("owl");
        double d0 = owl.at("/outlier_ratio/0").asDouble();
        double d1 = owl.at("/outlier_ratio/1").asDouble();
        assertTrue(d0 != d1, owl.toString());
        double[] blockSparsity = {d0 > d1 ? 0.4 : 0.6, d0 > d1 ? 0.6 : 0.4};
        for (String name : cfg.prunableWeights()) { // PST prunes whole matrices: floor(numel · S_l) of each
            int layer = Integer.parseInt(name.split("\\.")[2]);
            long[] shape = cfg.expectedTensors().get(name);
            long numel = shape[0] * shape[1];
            assertEquals(Math.floor(numel * blockSparsity[layer]) / numel,
                    sparsity.at("/tensors/" + name + "/sparsity").asDouble(), 1e-12, name);
        }
        assertEquals(0.5, sparsity.get("global_sparsity").asDouble(), 1e-3);
        Cli refused = Cli.run("finetune", "--model", in.toString(), "--out", tmp.resolve("refused").toString(),
                "--method", "ast", "--pattern", "2:4", "--sparsity-profile", "owl", "--data", text.toString());
        assertEquals(2, refused.exitCode(), refused.toString());
        assertTrue(refused.err().contains("--sparsity-profile owl: OWL allocates unstructured sparsity"), refused.err());
    }

    @Test
    void astExportsExactTwoFourWeightsOnBothFamilies() throws Exception {
        Path text = text();
        for (ModelConfig cfg : List.of(TinyCheckpoints.gpt2(), TinyCheckpoints.llama())) {
            Path in = tmp.resolve(cfg.modelType() + "-ast-in");
            boolean gpt2 = cfg.modelType().equals("gpt2");
            DType dtype = gpt2 ? DType.F32 : DType.BF16;
            TinyCheckpoints.write(storage, in.toString(), cfg, dtype, 0, 7);
            Path out = tmp.resolve(cfg.modelType() + "-ast");
            Cli r = Cli.run("finetune", "--model", in.toString(), "--out", out.toString(), "--method", "ast",
                    "--pattern", "2:4", "--data", text.toString(), "--validation", text.toString(), "--seqlen", "16",
                    "--steps", "6", "--batch", "4", "--eval-windows", "4", "--ast-reselect-every", "2",
                    "--lr", "1e-2", "--export-metadata", gpt2 ? "compressed-tensors" : "none", "--master", "local[2]");
            assertEquals(0, r.exitCode(), r.toString());
            assertTrue(r.err().contains("mask_flip_rate"), r.err());
            JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
            if (gpt2) { // asked for: the compressed-tensors block, GPT-2's linears being Conv1D
                JsonNode sc = config.get("quantization_config").get("sparsity_config");
                assertEquals("2:4", sc.get("sparsity_structure").asText());
                assertEquals("[\"Conv1D\"]", sc.get("targets").toString());
            } else {
                assertEquals(new ObjectMapper().readTree(in.resolve("config.json").toFile()), config);
            }
            try (HfCheckpoint a = HfCheckpoint.open(storage, in.toString());
                 HfCheckpoint b = HfCheckpoint.open(storage, out.toString())) {
                assertEquals(a.tensorNames(), b.tensorNames());
                Parameters before = a.parameters(DataType.FLOAT);
                Parameters after = b.parameters(DataType.FLOAT);
                for (String stored : a.tensorNames()) {
                    assertEquals(a.info(stored).dtype(), b.info(stored).dtype(), stored);
                }
                for (String w : cfg.prunableWeights()) {
                    INDArray x = after.get(w);
                    for (long row = 0; row < x.rows(); row++) {
                        for (long g = 0; g < x.columns(); g += 4) {
                            int nonZero = 0;
                            for (long j = g; j < g + 4; j++) {
                                nonZero += x.getDouble(row, j) != 0 ? 1 : 0;
                            }
                            assertTrue(nonZero <= 2, w + " row " + row + " group " + g + ": " + nonZero + " of 4");
                        }
                    }
                }
                String norm = cfg.modelType().equals("gpt2") ? "transformer.ln_f.weight" : "model.norm.weight";
                assertFalse(before.get(norm).equals(after.get(norm)), "every parameter trains, norms too");
            }
            JsonNode sparsity = new ObjectMapper().readTree(out.resolve("sparsity.json").toFile());
            assertEquals("ast", sparsity.get("method").asText());
            assertEquals("2:4", sparsity.get("structure").asText());
            assertEquals(0.5, sparsity.get("global_sparsity").asDouble(), 0.0, "exactly half of every group");
            assertEquals(2, sparsity.get("ast").get("reselect_every").asInt());
            assertTrue(Files.readString(tmp.resolve(cfg.modelType() + "-ast.run").resolve("metrics.jsonl"))
                    .contains("mask_flip_rate"));
        }
    }

    @Test
    void slorbTravelsBesideTheExactTwoFourCheckpointAndEvaluateAppliesIt() throws Exception {
        Path text = text();
        Path in = tmp.resolve("in");
        TinyCheckpoints.write(storage, in.toString(), TinyCheckpoints.llama(), DType.F32, 0, 7);
        Path out = tmp.resolve("slorb");
        Cli r = Cli.run("finetune", "--model", in.toString(), "--out", out.toString(), "--method", "ast",
                "--pattern", "2:4", "--data", text.toString(), "--validation", text.toString(), "--seqlen", "16",
                "--steps", "4", "--batch", "4", "--eval-windows", "4", "--ast-slorb-group", "4", "--lr", "1e-2",
                "--master", "local[2]");
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(Files.exists(out.resolve("slorb.safetensors")));
        JsonNode v = new ObjectMapper().readTree(out.resolve("sparsity.json").toFile()).get("validation");
        double after = v.get("perplexity_after").asDouble();
        assertTrue(v.get("perplexity_after_without_slorb").asDouble() != after, v.toString());
        Cli eval = Cli.run("evaluate", "--model", out.toString(), "--data", text.toString(), "--seqlen", "16",
                "--max-windows", "4", "--master", "local[1]");
        assertEquals(0, eval.exitCode(), eval.toString());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("perplexity\\s+([0-9.]+)").matcher(eval.out());
        assertTrue(m.find(), eval.out());
        assertEquals(after, Double.parseDouble(m.group(1)), after * 1e-3, "evaluate reads checkpoint + branch");
        try (SafetensorsFile masks = SafetensorsFile.open(storage, out.resolve("masks.safetensors").toString())) {
            for (var t : masks.tensors()) {
                long[] keep = masks.readIntegers(t.name());
                assertEquals(keep.length / 2, java.util.Arrays.stream(keep).sum(), t.name());
            }
        }
    }
}
