package org.sparseft.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.safetensors.DType;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.testing.TinyCheckpoints;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The LLaMA layout's other families (Mistral, Qwen2, Qwen3, LLaMA-3.1 rope scaling) and OPT (pre-LN, and OPT-350m's
 * post-LN with projections) through every job on local Spark: random BF16 checkpoints in the hub layout (tensor names, shapes and config fields as transformers writes
 * them), with 16-token sequences longer than the sliding windows, evaluated, pruned with SparseGPT at 2:4, fine-tuned
 * with AST and PST, and each output evaluated again.
 */
class ModelFamiliesTest {
    @TempDir
    Path tmp;
    private final Storage storage = HadoopStorage.withDefaults();

    private static ModelConfig config(String family) {
        return switch (family) {
            case "opt" -> TinyCheckpoints.opt();
            case "opt350" -> TinyCheckpoints.opt350();
            case "mistral" -> TinyCheckpoints.mistral();
            case "qwen2" -> TinyCheckpoints.qwen2();
            case "qwen3" -> TinyCheckpoints.qwen3();
            case "llama31" -> TinyCheckpoints.llama31();
            default -> throw new IllegalArgumentException(family);
        };
    }

    private static double perplexity(Path model, Path text) {
        Cli r = Cli.run("evaluate", "--model", model.toString(), "--data", text.toString(), "--seqlen", "16",
                "--master", "local[1]");
        assertEquals(0, r.exitCode(), r.toString());
        String line = r.out().lines().filter(l -> l.startsWith("perplexity")).findFirst().orElseThrow();
        double ppl = Double.parseDouble(line.split("\\s+")[1]);
        assertTrue(ppl > 1 && Double.isFinite(ppl), line);
        return ppl;
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral", "qwen2", "qwen3", "llama31", "opt", "opt350"})
    void everyJobRunsOnTheFamilyAndItsOutputsLoad(String family) throws Exception {
        ModelConfig cfg = config(family);
        Path text = FinetuneCommandTest.text(tmp);
        Path in = tmp.resolve(family);
        TinyCheckpoints.write(storage, in.toString(), cfg, DType.BF16, 0, 11);
        double dense = perplexity(in, text);
        assertTrue(Math.abs(Math.log(dense) - Math.log(257)) < 0.5, "random weights: about uniform, " + dense);

        Path pruned = tmp.resolve(family + "-sparsegpt");
        Cli prune = Cli.run("prune", "--model", in.toString(), "--out", pruned.toString(), "--method", "sparsegpt",
                "--pattern", "2:4", "--calib", text.toString(), "--nsamples", "8", "--seqlen", "16",
                "--master", "local[2]");
        assertEquals(0, prune.exitCode(), prune.toString());
        JsonNode sparsity = new ObjectMapper().readTree(pruned.resolve("sparsity.json").toFile());
        assertEquals(0.5, sparsity.get("global_sparsity").asDouble(), 0.0);
        assertEquals(cfg.prunableWeights().size(), sparsity.get("tensors").size());
        try (HfCheckpoint a = HfCheckpoint.open(storage, in.toString());
             HfCheckpoint b = HfCheckpoint.open(storage, pruned.toString())) {
            assertEquals(a.tensorNames(), b.tensorNames(), "the hub layout is kept");
            Set<String> prunable = new HashSet<>(cfg.prunableWeights());
            for (String t : a.tensorNames()) {
                if (!prunable.contains(t)) { // biases, norms (Qwen3's q/k norms too), embeddings: untouched
                    assertEquals(a.rawBytes(t), b.rawBytes(t), t);
                }
            }
            Parameters after = b.parameters(DataType.FLOAT);
            for (String w : cfg.prunableWeights()) {
                INDArray x = after.get(w);
                for (long row = 0; row < x.rows(); row++) {
                    for (long g = 0; g < x.columns(); g += 4) {
                        int zeros = 0;
                        for (long j = g; j < g + 4; j++) {
                            zeros += x.getDouble(row, j) == 0 ? 1 : 0;
                        }
                        assertTrue(zeros >= 2, w + " row " + row + " group " + g);
                    }
                }
            }
        }
        perplexity(pruned, text);

        for (String method : new String[] {"magnitude", "wanda", "dsnot"}) { // the other one-shot methods
            Path out = tmp.resolve(family + "-" + method);
            Cli r = Cli.run("prune", "--model", in.toString(), "--out", out.toString(), "--method", method,
                    "--sparsity", "0.5", "--calib", text.toString(), "--nsamples", "4", "--seqlen", "16",
                    "--master", "local[2]");
            assertEquals(0, r.exitCode(), method + ": " + r);
            assertEquals(0.5, new ObjectMapper().readTree(out.resolve("sparsity.json").toFile())
                    .get("global_sparsity").asDouble(), 0.01, method);
            try (HfCheckpoint b = HfCheckpoint.open(storage, out.toString())) {
                b.validateAgainstConfig();
            }
        }

        for (String[] method : new String[][] {{"ast", "--pattern", "2:4"}, {"pst", "--sparsity", "0.5"}}) {
            Path out = tmp.resolve(family + "-" + method[0]);
            Cli r = Cli.run("finetune", "--model", in.toString(), "--out", out.toString(), "--method", method[0],
                    method[1], method[2], "--data", text.toString(), "--seqlen", "16", "--steps", "4", "--batch", "4",
                    "--master", "local[2]");
            assertEquals(0, r.exitCode(), r.toString());
            assertEquals(0.5, new ObjectMapper().readTree(out.resolve("sparsity.json").toFile())
                    .get("global_sparsity").asDouble(), 1e-9, method[0]);
            assertEquals(new ObjectMapper().readTree(in.resolve("config.json").toFile()),
                    new ObjectMapper().readTree(out.resolve("config.json").toFile()), "config.json as it came");
            perplexity(out, text);
        }
    }
}
