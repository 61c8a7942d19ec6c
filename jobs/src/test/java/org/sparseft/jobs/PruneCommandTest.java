package org.sparseft.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsFile;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.testing.TinyCheckpoints;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code sparseft prune} through real local Spark on tiny GPT-2 and LLaMA checkpoints written in HF layout. */
class PruneCommandTest {
    @TempDir
    Path tmp;
    private final Storage storage = HadoopStorage.withDefaults();

    private Path calibration() throws Exception {
        Path text = tmp.resolve("calib.txt");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            sb.append("Calibration sentence ").append(i).append(" about juries, elections and the city.\n\n");
        }
        Files.writeString(text, sb.toString());
        return text;
    }

    @Test
    void wandaKeepsTheInputLayoutAndGivesExactRowSparsityOnBothFamilies() throws Exception {
        Path text = calibration();
        for (ModelConfig cfg : List.of(TinyCheckpoints.gpt2(), TinyCheckpoints.llama())) {
            Path in = tmp.resolve(cfg.modelType() + "-in");
            DType dtype = cfg.modelType().equals("gpt2") ? DType.F32 : DType.BF16;
            TinyCheckpoints.write(storage, in.toString(), cfg, dtype, cfg.modelType().equals("gpt2") ? 0 : 6000, 3);
            Path out = tmp.resolve(cfg.modelType() + "-out");
            Cli r = Cli.run("prune", "--model", in.toString(), "--out", out.toString(), "--method", "wanda",
                    "--sparsity", "0.5", "--calib", text.toString(), "--nsamples", "8", "--seqlen", "16",
                    "--master", "local[2]");
            assertEquals(0, r.exitCode(), r.toString());
            assertTrue(r.out().contains("sparsity   0.5000"), r.out());
            Set<String> prunable = new HashSet<>(cfg.prunableWeights());
            try (HfCheckpoint a = HfCheckpoint.open(storage, in.toString());
                 HfCheckpoint b = HfCheckpoint.open(storage, out.toString());
                 SafetensorsFile masks = SafetensorsFile.open(storage, out.resolve("masks.safetensors").toString())) {
                assertEquals(a.shardFiles(), b.shardFiles(), "same shard files");
                assertEquals(a.tensorNames(), b.tensorNames(), "same tensors in the same order");
                for (String stored : a.tensorNames()) {
                    assertEquals(a.info(stored).dtype(), b.info(stored).dtype(), stored);
                    String canonical = cfg.modelType().equals("gpt2") && !stored.startsWith("transformer.")
                            ? "transformer." + stored : stored;
                    ByteBuffer before = a.rawBytes(stored);
                    ByteBuffer after = b.rawBytes(stored);
                    if (!prunable.contains(canonical)) {
                        assertEquals(before, after, stored + " untouched");
                        continue;
                    }
                    int size = dtype.bytes();
                    byte[] mask = new byte[masks.readIntegers(stored).length];
                    long[] m = masks.readIntegers(stored);
                    for (int i = 0; i < m.length; i++) {
                        mask[i] = (byte) m[i];
                        for (int k = 0; k < size; k++) {
                            byte expected = m[i] == 1 ? before.get(i * size + k) : 0;
                            assertEquals(expected, after.get(i * size + k), stored + " element " + i);
                        }
                    }
                    // per output row of the compute layout: exactly floor(in/2) pruned
                    long[] shape = Parameters.computeShapes(cfg).get(canonical);
                    boolean transposed = Parameters.storedTransposed(cfg, canonical);
                    for (int row = 0; row < shape[0]; row++) {
                        int zeros = 0;
                        for (int col = 0; col < shape[1]; col++) {
                            int idx = (int) (transposed ? col * shape[0] + row : row * shape[1] + col);
                            zeros += mask[idx] == 0 ? 1 : 0;
                        }
                        assertEquals(shape[1] / 2, zeros, stored + " row " + row);
                    }
                }
            }
            JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
            assertEquals(new ObjectMapper().readTree(in.resolve("config.json").toFile()), config,
                    "by default the input's config.json, without a quantization_config");
            JsonNode sparsity = new ObjectMapper().readTree(out.resolve("sparsity.json").toFile());
            assertEquals("wanda", sparsity.get("method").asText());
            assertEquals(prunable.size(), sparsity.get("tensors").size());
            assertTrue(Files.exists(out.resolve("_SUCCESS")) && Files.exists(out.resolve("tokenizer.json")));
            Cli eval = Cli.run("evaluate", "--model", out.toString(), "--data", text.toString(), "--seqlen", "16",
                    "--master", "local[1]");
            assertEquals(0, eval.exitCode(), "the pruned checkpoint loads: " + eval);
        }
    }

    @Test
    void dsnotTwoFourMasksConformAndDoNotDependOnScheduling() throws Exception {
        Path text = calibration();
        Path in = tmp.resolve("llama");
        TinyCheckpoints.write(storage, in.toString(), TinyCheckpoints.llama(), DType.F32, 0, 4);
        byte[][] masks = new byte[2][];
        int k = 0;
        for (String master : List.of("local[1]", "local[3]")) {
            Path out = tmp.resolve("out-" + k);
            Cli r = Cli.run("prune", "--model", in.toString(), "--out", out.toString(), "--method", "dsnot",
                    "--pattern", "2:4", "--dsnot-skip-layer", "none", "--calib", text.toString(), "--nsamples", "9",
                    "--seqlen", "16", "--partitions", "3", "--calib-batch", "2", "--master", master);
            assertEquals(0, r.exitCode(), r.toString());
            masks[k++] = Files.readAllBytes(out.resolve("masks.safetensors"));
            try (SafetensorsFile f = SafetensorsFile.open(storage, out.resolve("masks.safetensors").toString())) {
                for (var t : f.tensors()) {
                    long[] m = f.readIntegers(t.name());
                    for (int g = 0; g < m.length; g += 4) {
                        assertEquals(2, m[g] + m[g + 1] + m[g + 2] + m[g + 3], t.name() + " group " + g / 4);
                    }
                }
            }
        }
        assertArrayEquals(masks[0], masks[1], "local[1] and local[3] choose the same masks");
        Cli inspect = Cli.run("inspect", "--model", tmp.resolve("out-0").toString());
        assertEquals(0, inspect.exitCode(), inspect.toString());
        assertTrue(inspect.out().lines().anyMatch(l -> l.startsWith("model.layers.1.mlp.down_proj.weight")
                && l.endsWith("2:4")), inspect.out());
        assertTrue(inspect.out().lines().anyMatch(l -> l.startsWith("lm_head.weight") && l.endsWith("-")),
                "the dense head conforms to no pattern: " + inspect.out());
    }

    @Test
    void sparseGptUpdatesKeptWeightsKeepsNOutOfMAndDoesNotDependOnScheduling() throws Exception {
        Path text = calibration();
        for (ModelConfig cfg : List.of(TinyCheckpoints.gpt2(), TinyCheckpoints.llama())) {
            Path in = tmp.resolve(cfg.modelType() + "-sgpt");
            DType dtype = cfg.modelType().equals("gpt2") ? DType.F32 : DType.BF16;
            TinyCheckpoints.write(storage, in.toString(), cfg, dtype, 0, 5);
            byte[][] shards = new byte[2][];
            int k = 0;
            for (String master : List.of("local[1]", "local[3]")) {
                Path out = tmp.resolve(cfg.modelType() + "-sgpt-out-" + k);
                Cli r = Cli.run("prune", "--model", in.toString(), "--out", out.toString(), "--method", "sparsegpt",
                        "--pattern", "2:4", "--sparsegpt-blocksize", "8", "--calib", text.toString(), "--nsamples",
                        "9", "--seqlen", "16", "--partitions", "3", "--calib-batch", "2", "--master", master);
                assertEquals(0, r.exitCode(), r.toString());
                shards[k++] = Files.readAllBytes(out.resolve("model.safetensors"));
            }
            assertArrayEquals(shards[0], shards[1], cfg.modelType() + ": local[1] and local[3] write the same weights");
            Path out = tmp.resolve(cfg.modelType() + "-sgpt-out-0");
            Set<String> prunable = new HashSet<>(cfg.prunableWeights());
            int changed = 0;
            try (HfCheckpoint a = HfCheckpoint.open(storage, in.toString());
                 HfCheckpoint b = HfCheckpoint.open(storage, out.toString());
                 SafetensorsFile masks = SafetensorsFile.open(storage, out.resolve("masks.safetensors").toString())) {
                var before = a.parameters(org.nd4j.linalg.api.buffer.DataType.FLOAT);
                var after = b.parameters(org.nd4j.linalg.api.buffer.DataType.FLOAT);
                for (String stored : a.tensorNames()) {
                    String canonical = HfCheckpoint.canonical(cfg, stored);
                    assertEquals(a.info(stored).dtype(), b.info(stored).dtype(), stored);
                    if (!prunable.contains(canonical)) {
                        assertEquals(a.rawBytes(stored), b.rawBytes(stored), stored + " untouched");
                        continue;
                    }
                    var w = after.get(canonical);
                    var keep = w.neq(0).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT);
                    var groups = keep.reshape('c', w.length() / 4, 4).sum(1);
                    assertTrue(groups.lte(2.0).all(), canonical + ": at most 2 of every 4 inputs non-zero");
                    long[] m = masks.readIntegers(stored);
                    long kept = 0;
                    for (long v : m) {
                        kept += v;
                    }
                    assertEquals(w.length() / 2, kept, canonical + ": the mask keeps exactly half");
                    var unchanged = w.eq(before.get(canonical)).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT)
                            .mul(keep).sumNumber().longValue();
                    changed += unchanged < kept ? 1 : 0;
                }
            }
            assertEquals(prunable.size(), changed, cfg.modelType() + ": SparseGPT moved kept weights of every linear");
            JsonNode sparsity = new ObjectMapper().readTree(out.resolve("sparsity.json").toFile());
            assertEquals("sparsegpt", sparsity.get("method").asText());
            assertEquals(0.5, sparsity.get("global_sparsity").asDouble(), 1e-12);
            Cli eval = Cli.run("evaluate", "--model", out.toString(), "--data", text.toString(), "--seqlen", "16",
                    "--master", "local[1]");
            assertEquals(0, eval.exitCode(), "the pruned checkpoint loads: " + eval);
        }
    }

    @Test
    void perLayerSparsityFileOverridesTheDefaultFirstMatchWins() throws Exception {
        Path text = calibration();
        Path in = tmp.resolve("llama-plan");
        TinyCheckpoints.write(storage, in.toString(), TinyCheckpoints.llama(), DType.F32, 0, 6);
        Path plan = tmp.resolve("plan.json");
        Files.writeString(plan, "{\"layers\\\\.0\\\\.\": 0.25, \"mlp\": \"2:4\"}");
        Path out = tmp.resolve("plan-out");
        Cli r = Cli.run("prune", "--model", in.toString(), "--out", out.toString(), "--method", "wanda",
                "--sparsity", "0.5", "--sparsity-per-layer", plan.toString(), "--calib", text.toString(),
                "--nsamples", "4", "--seqlen", "16", "--export-metadata", "compressed-tensors", "--master", "local[1]");
        assertEquals(0, r.exitCode(), r.toString());
        JsonNode tensors = new ObjectMapper().readTree(out.resolve("sparsity.json").toFile()).get("tensors");
        assertEquals(0.25, tensors.get("model.layers.0.mlp.up_proj.weight").get("sparsity").asDouble(), 1e-12,
                "the first matching rule wins");
        assertEquals(0.25, tensors.get("model.layers.0.self_attn.q_proj.weight").get("sparsity").asDouble(), 1e-12);
        assertEquals(0.5, tensors.get("model.layers.1.mlp.up_proj.weight").get("sparsity").asDouble(), 1e-12);
        assertEquals(0.5, tensors.get("model.layers.1.self_attn.o_proj.weight").get("sparsity").asDouble(), 1e-12);
        Cli inspect = Cli.run("inspect", "--model", out.toString());
        assertTrue(inspect.out().lines().anyMatch(l -> l.startsWith("model.layers.1.mlp.down_proj.weight")
                && l.endsWith("2:4")), "layer 1's mlp is 2:4: " + inspect.out());
        assertTrue(inspect.out().lines().anyMatch(l -> l.startsWith("model.layers.1.self_attn.o_proj.weight")
                && l.endsWith("-")), "layer 1's attention is unstructured: " + inspect.out());
        JsonNode quantization = new ObjectMapper().readTree(out.resolve("config.json").toFile())
                .get("quantization_config");
        assertEquals("compressed-tensors", quantization.get("quant_method").asText());
        JsonNode sc = quantization.get("sparsity_config");
        assertEquals("dense", sc.get("format").asText());
        assertEquals("unstructured", sc.get("sparsity_structure").asText(), "mixed targets are not one N:M pattern");
        assertEquals(new ObjectMapper().readTree(out.resolve("sparsity.json").toFile()).get("global_sparsity")
                .asDouble(), sc.get("global_sparsity").asDouble(), 1e-12);
        assertEquals("[\"Linear\"]", sc.get("targets").toString());
        assertEquals("lm_head", sc.get("ignore").get(0).asText());

        // pruning that output again by default drops the block, whose figures would describe the earlier weights
        Path again = tmp.resolve("plan-again");
        Cli second = Cli.run("prune", "--model", out.toString(), "--out", again.toString(), "--method", "magnitude",
                "--sparsity", "0.6", "--calib", text.toString(), "--nsamples", "4", "--seqlen", "16", "--master",
                "local[1]");
        assertEquals(0, second.exitCode(), second.toString());
        JsonNode againConfig = new ObjectMapper().readTree(again.resolve("config.json").toFile());
        assertFalse(againConfig.has("quantization_config"), againConfig.toString());
        assertEquals(new ObjectMapper().readTree(in.resolve("config.json").toFile()), againConfig);
    }

    @Test
    void theObsUpdateKeepsTheMasksAndMovesOnlyKeptWeights() throws Exception {
        Path text = calibration();
        ModelConfig cfg = TinyCheckpoints.llama();
        Path in = tmp.resolve("obs-in");
        TinyCheckpoints.write(storage, in.toString(), cfg, DType.F32, 0, 7);
        for (String method : List.of("wanda", "dsnot")) {
            Path plain = tmp.resolve(method + "-plain");
            Path updated = tmp.resolve(method + "-obs");
            for (Path out : List.of(plain, updated)) {
                List<String> args = new java.util.ArrayList<>(List.of("prune", "--model", in.toString(), "--out",
                        out.toString(), "--method", method, "--pattern", "2:4", "--calib", text.toString(),
                        "--nsamples", "8", "--seqlen", "16", "--master", "local[2]"));
                if (out.equals(updated)) {
                    args.addAll(List.of("--update", "obs", "--sparsegpt-blocksize", "8"));
                }
                Cli r = Cli.run(args.toArray(String[]::new));
                assertEquals(0, r.exitCode(), r.toString());
            }
            assertArrayEquals(Files.readAllBytes(plain.resolve("masks.safetensors")),
                    Files.readAllBytes(updated.resolve("masks.safetensors")), method + ": the same masks");
            int moved = 0;
            try (HfCheckpoint a = HfCheckpoint.open(storage, plain.toString());
                 HfCheckpoint b = HfCheckpoint.open(storage, updated.toString())) {
                var before = a.parameters(org.nd4j.linalg.api.buffer.DataType.FLOAT);
                var after = b.parameters(org.nd4j.linalg.api.buffer.DataType.FLOAT);
                for (String name : cfg.prunableWeights()) {
                    var keep = before.get(name).neq(0).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT);
                    assertEquals(0.0, after.get(name).mul(keep.rsub(1)).amaxNumber().doubleValue(), 0.0,
                            name + ": pruned weights stay zero");
                    moved += after.get(name).equalsWithEps(before.get(name), 0) ? 0 : 1;
                }
            }
            assertEquals(cfg.prunableWeights().size(), moved, method + ": the update moved every linear's kept weights");
            JsonNode sparsity = new ObjectMapper().readTree(updated.resolve("sparsity.json").toFile());
            assertEquals("obs", sparsity.at("/update/method").asText(), sparsity.toString());
            assertEquals(8, sparsity.at("/update/blocksize").asInt());
            assertTrue(new ObjectMapper().readTree(plain.resolve("sparsity.json").toFile()).path("update").isMissingNode(),
                    "no update block without the update");
        }
        Cli refused = Cli.run("prune", "--model", in.toString(), "--out", tmp.resolve("refused").toString(), "--method",
                "sparsegpt", "--pattern", "2:4", "--update", "obs", "--calib", text.toString());
        assertEquals(2, refused.exitCode(), refused.toString());
        assertTrue(refused.err().contains("--update obs: SparseGPT updates the kept weights itself"), refused.err());
        assertTrue(Files.notExists(tmp.resolve("refused")));
    }

    @Test
    void owlGivesBlocksWithMoreOutliersLowerSparsityAndTheTargetOverall() throws Exception {
        Path text = calibration();
        ModelConfig cfg = TinyCheckpoints.llama();
        Path in = tmp.resolve("owl-in");
        TinyCheckpoints.write(storage, in.toString(), cfg, DType.F32, 0, 8);
        Path out = tmp.resolve("owl-out");
        // M = 2: random weights have few scores above 5 times the mean
        Cli r = Cli.run("prune", "--model", in.toString(), "--out", out.toString(), "--method", "wanda",
                "--sparsity", "0.5", "--sparsity-profile", "owl", "--owl-m", "2", "--owl-lambda", "0.1", "--calib",
                text.toString(), "--nsamples", "8", "--seqlen", "16", "--master", "local[2]");
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.err().contains("OWL, dense pass: block 2/2 has"), r.err());
        JsonNode sparsity = new ObjectMapper().readTree(out.resolve("sparsity.json").toFile());
        JsonNode owl = sparsity.get("owl");
        assertEquals(2.0, owl.get("m").asDouble());
        assertEquals(0.1, owl.get("lambda").asDouble());
        double d0 = owl.at("/outlier_ratio/0").asDouble();
        double d1 = owl.at("/outlier_ratio/1").asDouble();
        assertTrue(d0 != d1 && d0 > 0 && d1 > 0, owl.toString());
        // two blocks: the one with more outliers gets 0.5 - λ, the other 0.5 + λ
        double[] blockSparsity = {d0 > d1 ? 0.4 : 0.6, d0 > d1 ? 0.6 : 0.4};
        assertEquals(blockSparsity[0], owl.at("/block_sparsity/0").asDouble(), 1e-12, owl.toString());
        assertEquals(blockSparsity[1], owl.at("/block_sparsity/1").asDouble(), 1e-12, owl.toString());
        assertTrue(r.out().contains("owl        block sparsities"), r.out());
        // every pruned weight counted: each row of block l prunes floor(in * S_l)
        long pruned = 0;
        long total = 0;
        long expected = 0;
        try (SafetensorsFile masks = SafetensorsFile.open(storage, out.resolve("masks.safetensors").toString())) {
            for (String name : cfg.prunableWeights()) {
                int layer = Integer.parseInt(name.split("\\.")[2]);
                long[] shape = cfg.expectedTensors().get(name);
                long[] keep = masks.readIntegers(name);
                long zeros = 0;
                for (long k : keep) {
                    zeros += k == 0 ? 1 : 0;
                }
                long perRow = (long) Math.floor(shape[1] * blockSparsity[layer]);
                assertEquals(shape[0] * perRow, zeros, name);
                assertEquals((double) perRow / shape[1], sparsity.at("/tensors/" + name.replace("/", "~1")
                        + "/sparsity").asDouble(), 1e-12, name);
                pruned += zeros;
                expected += shape[0] * perRow;
                total += keep.length;
            }
            assertEquals(expected, pruned);
            assertEquals((double) pruned / total, sparsity.get("global_sparsity").asDouble(), 1e-12);
            assertEquals(0.5, (double) pruned / total, 1.0 / 16, "the target up to one weight per row");
        }
    }

    @Test
    void blockRecoveryKeepsTheMasksLowersTheBlocksErrorAndDoesNotDependOnScheduling() throws Exception {
        Path text = calibration();
        ModelConfig cfg = TinyCheckpoints.llama();
        Path in = tmp.resolve("recover-in");
        TinyCheckpoints.writeTrainedScale(storage, in.toString(), cfg, DType.F32, 9, 0.3);
        Path plain = tmp.resolve("recover-plain");
        Path[] recovered = {tmp.resolve("recover-a"), tmp.resolve("recover-b")};
        for (Path out : List.of(plain, recovered[0], recovered[1])) {
            List<String> args = new java.util.ArrayList<>(List.of("prune", "--model", in.toString(), "--out",
                    out.toString(), "--method", "wanda", "--sparsity", "0.5", "--calib", text.toString(),
                    "--nsamples", "8", "--seqlen", "16", "--partitions", "2",
                    "--master", out.equals(recovered[1]) ? "local[1]" : "local[2]"));
            if (!out.equals(plain)) { // the whole sample each step: the error is measured on the same sequences
                args.addAll(List.of("--recover-steps", "6", "--recover-lr", "1e-3", "--recover-batch", "8",
                        "--recover-holdout", "0"));
            }
            Cli r = Cli.run(args.toArray(String[]::new));
            assertEquals(0, r.exitCode(), r.toString());
        }
        // block 0 is pruned from the same inputs; later blocks see the recovered blocks' outputs
        try (SafetensorsFile a = SafetensorsFile.open(storage, plain.resolve("masks.safetensors").toString());
             SafetensorsFile b = SafetensorsFile.open(storage, recovered[0].resolve("masks.safetensors").toString())) {
            for (String linear : cfg.prunableLinears(0)) {
                assertArrayEquals(a.readIntegers(linear + ".weight"), b.readIntegers(linear + ".weight"), linear);
            }
        }
        assertArrayEquals(Files.readAllBytes(recovered[0].resolve("model.safetensors")),
                Files.readAllBytes(recovered[1].resolve("model.safetensors")),
                "one task at a time or two at once: the same bits");
        try (HfCheckpoint a = HfCheckpoint.open(storage, plain.toString());
             HfCheckpoint b = HfCheckpoint.open(storage, recovered[0].toString());
             SafetensorsFile masks = SafetensorsFile.open(storage,
                     recovered[0].resolve("masks.safetensors").toString())) {
            var before = a.parameters(org.nd4j.linalg.api.buffer.DataType.FLOAT);
            var after = b.parameters(org.nd4j.linalg.api.buffer.DataType.FLOAT);
            for (String name : cfg.prunableWeights()) {
                long[] keep = masks.readIntegers(name);
                float[] values = after.get(name).dup('c').data().asFloat();
                long kept = 0;
                for (int i = 0; i < keep.length; i++) {
                    assertTrue(keep[i] == 1 || values[i] == 0, name + "[" + i + "]: pruned weights stay zero");
                    kept += keep[i];
                }
                assertEquals(keep.length / 2, kept, name);
                if (name.startsWith("model.layers.0.")) { // the same masks as without recovery
                    assertTrue(!after.get(name).equalsWithEps(before.get(name), 0), name + ": kept weights moved");
                }
            }
            for (int layer = 0; layer < cfg.numLayers(); layer++) {
                String norm = "model.layers." + layer + ".input_layernorm.weight";
                assertTrue(!after.get(norm).equalsWithEps(before.get(norm), 0), norm + " trains too");
            }
            assertTrue(after.get("model.norm.weight").equalsWithEps(before.get("model.norm.weight"), 0),
                    "tensors outside the blocks stay");
            assertTrue(after.get("lm_head.weight").equalsWithEps(before.get("lm_head.weight"), 0));
        }
        JsonNode recovery = new ObjectMapper().readTree(recovered[0].resolve("sparsity.json").toFile()).get("recovery");
        assertEquals(6, recovery.get("steps").asInt(), recovery.toString());
        for (int layer = 0; layer < cfg.numLayers(); layer++) {
            double first = recovery.at("/first_error/" + layer).asDouble();
            double last = recovery.at("/last_error/" + layer).asDouble();
            assertTrue(last < first && last > 0, "block " + layer + ": " + recovery);
        }
        assertEquals("[6,6]", recovery.get("kept_step").toString(), "without a hold-out the last step is kept");
    }

    @Test
    void theHeldOutSequencesChooseEachBlocksWeightsAndADivergingRecoveryChangesNothing() throws Exception {
        Path text = calibration();
        ModelConfig cfg = TinyCheckpoints.llama();
        Path in = tmp.resolve("holdout-in");
        TinyCheckpoints.writeTrainedScale(storage, in.toString(), cfg, DType.F32, 9, 0.3);
        Path plain = tmp.resolve("holdout-plain");
        Path diverged = tmp.resolve("holdout-diverged");
        Path sane = tmp.resolve("holdout-sane");
        for (Path out : List.of(plain, diverged, sane)) {
            List<String> args = new java.util.ArrayList<>(List.of("prune", "--model", in.toString(), "--out",
                    out.toString(), "--method", "wanda", "--sparsity", "0.5", "--calib", text.toString(),
                    "--nsamples", "8", "--seqlen", "16", "--master", "local[2]"));
            if (!out.equals(plain)) { // 2 of the 8 sequences held out (at most a quarter); 6 train, 3 per step
                args.addAll(List.of("--recover-steps", "8", "--recover-batch", "3", "--recover-holdout", "2",
                        "--recover-lr", out.equals(diverged) ? "10" : "1e-3"));
            }
            Cli r = Cli.run(args.toArray(String[]::new));
            assertEquals(0, r.exitCode(), r.toString());
        }
        // a step size of 10 ruins every block: each keeps its one-shot weights, and the output is the plain prune's
        JsonNode bad = new ObjectMapper().readTree(diverged.resolve("sparsity.json").toFile()).get("recovery");
        assertEquals("[0,0]", bad.get("kept_step").toString(), bad.toString());
        assertEquals(2, bad.get("holdout").asInt());
        assertArrayEquals(Files.readAllBytes(plain.resolve("model.safetensors")),
                Files.readAllBytes(diverged.resolve("model.safetensors")));
        // a sane one: the kept weights are at least as good on the held-out sequences, and some step is kept
        JsonNode good = new ObjectMapper().readTree(sane.resolve("sparsity.json").toFile()).get("recovery");
        boolean moved = false;
        for (int layer = 0; layer < cfg.numLayers(); layer++) {
            double start = good.at("/held_out_start/" + layer).asDouble();
            double kept = good.at("/held_out_kept/" + layer).asDouble();
            int step = good.at("/kept_step/" + layer).asInt();
            assertTrue(kept <= start && kept > 0, good.toString());
            assertTrue(step % 4 == 0, "kept steps are measured ones (0, 4 and 8): " + good);
            moved |= step > 0;
        }
        assertTrue(moved, good.toString());
    }
}
