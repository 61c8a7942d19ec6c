package org.sparseft.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.safetensors.DType;
import org.sparseft.testing.TinyCheckpoints;

import javax.imageio.ImageIO;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code sparseft run}: recipes checked before anything runs, stages skipped, refused, forced and resumed. */
class RunCommandTest {
    @TempDir
    Path tmp;
    private final Storage storage = HadoopStorage.withDefaults();

    private Path recipe(String body) throws Exception {
        Path model = tmp.resolve("model");
        if (!Files.exists(model)) {
            TinyCheckpoints.write(storage, model.toString(), TinyCheckpoints.llama(), DType.F32, 0, 7);
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 80; i++) {
                sb.append("Sentence ").append(i % 7).append(" about juries, elections and the city.\n");
            }
            Files.writeString(tmp.resolve("train.txt"), sb.toString());
            Files.writeString(tmp.resolve("validation.txt"), sb.substring(0, 900));
        }
        Path r = tmp.resolve("recipe.yaml");
        Files.writeString(r, "model: " + model + "\ndata:\n  path: " + tmp.resolve("train.txt") + "\n  validation: "
                + tmp.resolve("validation.txt") + "\n  seqlen: 16\nspark:\n  master: local[2]\n" + body);
        return r;
    }

    private static final String PIPELINE = """
            prune:
              method: wanda
              pattern: "2:4"
              nsamples: 4
              update: obs
              recover-steps: 2
            finetune:
              method: pst
              sparsity: 0.5
              steps: 6
              batch: 4
              checkpoint-every: 2
              keep: 5
              eval-every: 2
              eval-windows: 2
              pst-weight-rank: 1
              pst-mask-rank: 1
            evaluate:
              max-windows: 2
              batch: 2
            export: {}
            """;

    @Test
    void aPipelineRunsReportsAndIsSkippedRefusedOrForcedWhenRunAgain() throws Exception {
        Path r = recipe(PIPELINE);
        Path run = tmp.resolve("run");
        Cli first = Cli.run("run", r.toString(), "--out", run.toString());
        assertEquals(0, first.exitCode(), first.toString());
        for (String stage : new String[] {"data", "prune", "finetune", "evaluate", "export"}) {
            assertTrue(Files.exists(run.resolve(stage).resolve("_SUCCESS")), stage);
            assertTrue(Files.exists(run.resolve("stages").resolve(stage + ".json")), stage);
        }
        JsonNode report = new ObjectMapper().readTree(run.resolve("report.json").toFile());
        assertEquals(5, report.get("stages").size());
        assertEquals("wanda + obs update + block-wise recovery (2 steps)",
                report.get("stages").get(1).get("method").asText(), "the levers as the report names them");
        JsonNode ppl = report.get("stages").get(3).get("perplexity");
        assertTrue(ppl.has("dense") && ppl.has("prune") && ppl.has("finetune"), ppl.toString());
        double reported = new ObjectMapper().readTree(run.resolve("evaluate").resolve("finetune.json").toFile())
                .get("perplexity").asDouble();
        assertEquals(reported, ppl.get("finetune").asDouble(), 0.0, "report.json carries evaluate's figures");
        assertTrue(Files.readString(run.resolve("report.md")).contains("| finetune | finetune | ran |"));
        assertNotNull(ImageIO.read(run.resolve("val_ppl.png").toFile()), "the validation plot decodes");
        byte[] exported = Files.readAllBytes(run.resolve("export").resolve("model.safetensors"));
        assertArrayEquals(Files.readAllBytes(run.resolve("finetune").resolve("model.safetensors")), exported);

        Cli again = Cli.run("run", r.toString(), "--out", run.toString());
        assertEquals(0, again.exitCode(), again.toString());
        assertEquals(5, again.err().split("with the same configuration: skipped", -1).length - 1, again.err());

        Cli changed = Cli.run("run", r.toString(), "--out", run.toString(), "--set", "finetune.steps=4");
        assertEquals(2, changed.exitCode(), changed.toString());
        assertTrue(changed.err().contains("stage 'finetune' finished earlier") && changed.err().contains("--force"),
                changed.err());
        assertArrayEquals(exported, Files.readAllBytes(run.resolve("export").resolve("model.safetensors")),
                "a refused run leaves the earlier results as they were");

        Cli forced = Cli.run("run", r.toString(), "--out", run.toString(), "--set", "finetune.steps=4", "--force");
        assertEquals(0, forced.exitCode(), forced.toString());
        assertTrue(forced.err().contains("[prune] finished earlier with the same configuration: skipped"));
        assertEquals(4, new ObjectMapper().readTree(run.resolve("finetune").resolve("sparsity.json").toFile())
                .get("training").get("steps").asInt());
    }

    @Test
    void theReportHoldsWhatTheStagesWroteAndPlotsThatDecode() throws Exception {
        Path r = recipe("""
                prune:
                  method: wanda
                  sparsity: 0.6
                  nsamples: 4
                finetune-ast:
                  method: ast
                  pattern: "2:4"
                  steps: 4
                  batch: 4
                  sync: grad
                  ast-reselect-every: 2
                  eval-every: 2
                  eval-windows: 2
                evaluate:
                  max-windows: 2
                  batch: 2
                """);
        Path run = tmp.resolve("run");
        Cli cli = Cli.run("run", r.toString(), "--out", run.toString(), "--set", "finetune-ast.lr=2e-3");
        assertEquals(0, cli.exitCode(), cli.toString());
        ObjectMapper json = new ObjectMapper();
        JsonNode report = json.readTree(run.resolve("report.json").toFile());
        assertFalse(report.at("/versions/sparseft").asText().isEmpty(), report.toString());
        assertFalse(report.at("/versions/spark").asText().isEmpty());
        assertEquals(0.002, report.at("/config/stages/finetune-ast/lr").asDouble(), 0.0, "the recipe as run, --set included");

        // per-layer sparsity: each layer's pruned over total, from the stage's own sparsity.json
        JsonNode prune = report.at("/stages/1");
        JsonNode tensors = json.readTree(run.resolve("prune/sparsity.json").toFile()).get("tensors");
        long pruned = 0;
        long total = 0;
        for (var it = tensors.fields(); it.hasNext(); ) {
            var e = it.next();
            if (e.getKey().startsWith("model.layers.1.")) {
                pruned += e.getValue().get("pruned").asLong();
                total += e.getValue().get("total").asLong();
            }
        }
        assertTrue(total > 0);
        assertEquals((double) pruned / total, prune.at("/layer_sparsity/1").asDouble(), 0.0);
        assertEquals(TinyCheckpoints.llama().numLayers(), prune.get("layer_sparsity").size());

        // training figures: the sums and last values of the stage's metrics.jsonl
        JsonNode training = report.at("/stages/2/training");
        long bytes = 0;
        double lastLoss = Double.NaN;
        double lastFlip = Double.NaN;
        for (String line : Files.readAllLines(run.resolve("finetune-ast.run/metrics.jsonl"))) {
            JsonNode n = json.readTree(line);
            if (n.has("loss")) {
                bytes += n.get("bytes_broadcast").asLong() + n.get("bytes_collected").asLong();
                lastLoss = n.get("loss").asDouble();
            }
            if (n.has("mask_flip_rate")) {
                lastFlip = n.get("mask_flip_rate").asDouble();
            }
        }
        assertEquals(4, training.get("steps").asInt());
        assertEquals(bytes, training.get("bytes_broadcast").asLong() + training.get("bytes_collected").asLong());
        assertEquals(lastLoss, training.get("final_train_loss").asDouble(), 0.0);
        assertEquals(lastFlip, training.get("mask_flip_rate_last").asDouble(), 0.0);
        assertEquals(json.readTree(run.resolve("evaluate/finetune-ast.json").toFile()).get("perplexity").asDouble(),
                report.at("/stages/3/perplexity/finetune-ast").asDouble(), 0.0);

        // AST's objective is not a cross-entropy: it gets its own plot, labelled with what it is made of
        assertEquals(List.of("loss.png", "ast_objective.png", "val_ppl.png", "mask_flip_rate.png",
                "layer_sparsity.png"), json.convertValue(report.get("plots"), List.class));
        assertEquals("0.33·CE + 0.67·τ²·KL, τ = 2.0", training.get("objective").asText());
        // the dense reference line is drawn because it was measured on the curves' windows (2 and 2)
        assertEquals(2, training.get("val_windows").asInt());
        assertEquals(2, report.at("/stages/3/perplexity_windows").asInt());
        assertEquals(List.of("dense, same 2 windows"), json.convertValue(report.get("val_ppl_references"), List.class));
        for (JsonNode png : report.get("plots")) {
            var image = ImageIO.read(run.resolve(png.asText()).toFile());
            assertNotNull(image, png + " decodes");
            assertEquals(900, image.getWidth());
        }
        String md = Files.readString(run.resolve("report.md"));
        assertTrue(md.contains(String.format(java.util.Locale.ROOT, "| 1 | %.4f | 0.5000 |",
                prune.at("/layer_sparsity/1").asDouble())), md);
        assertTrue(md.contains("| finetune-ast | 4 | grad |"), md);

        // evaluated on 3 windows, the curves on 2: no dense line on their plot
        Cli other = Cli.run("run", r.toString(), "--out", run.toString(), "--set", "finetune-ast.lr=2e-3", "--set",
                "evaluate.max-windows=3", "--force");
        assertEquals(0, other.exitCode(), other.toString());
        JsonNode again = json.readTree(run.resolve("report.json").toFile());
        assertEquals(3, again.at("/stages/3/perplexity_windows").asInt());
        assertEquals(List.of(), json.convertValue(again.get("val_ppl_references"), List.class));
    }

    @Test
    void anInterruptedFineTuneResumesFromItsLastCheckpointToTheSameModel() throws Exception {
        Path r = recipe(PIPELINE);
        Path whole = tmp.resolve("whole");
        assertEquals(0, Cli.run("run", r.toString(), "--out", whole.toString()).exitCode());
        Path broken = tmp.resolve("broken");
        assertEquals(0, Cli.run("run", r.toString(), "--out", broken.toString()).exitCode());
        // what a kill after the step-2 checkpoint leaves: the checkpoints so far, no output, no stage record
        deleteTree(broken.resolve("finetune"));
        deleteTree(broken.resolve("evaluate"));
        deleteTree(broken.resolve("export"));
        for (String s : new String[] {"finetune", "evaluate", "export"}) {
            Files.delete(broken.resolve("stages").resolve(s + ".json"));
        }
        deleteTree(broken.resolve("finetune.run").resolve("checkpoints").resolve("step-0000004"));
        deleteTree(broken.resolve("finetune.run").resolve("checkpoints").resolve("step-0000006"));
        Cli resumed = Cli.run("run", r.toString(), "--out", broken.toString());
        assertEquals(0, resumed.exitCode(), resumed.toString());
        assertTrue(resumed.err().contains("[prune] finished earlier with the same configuration: skipped"));
        assertTrue(resumed.err().contains("resuming from") && resumed.err().contains("step-0000002"),
                resumed.err());
        assertArrayEquals(Files.readAllBytes(whole.resolve("export").resolve("model.safetensors")),
                Files.readAllBytes(broken.resolve("export").resolve("model.safetensors")));
    }

    @Test
    void recipeMistakesAreNamedByKeyBeforeAnythingRuns() throws Exception {
        String[][] cases = {
                {"prune:\n  method: wanda\n  sparsty: 0.5\n", "key 'prune.sparsty' is unknown", "sparsity"},
                {"prune:\n  method: wanda\n  sparsity: half\n", "key 'prune.sparsity'", "'half' is not a double"},
                {"prune:\n  method: wanda\n  sparsity: 0.5\n  out: /tmp/x\n", "key 'prune.out' is set by the pipeline"},
                {"finetune:\n  method: pst\n  sparsity: 0.5\n  steps: [1, 2]\n", "key 'finetune.steps'"},
                {"prune:\n  method: wanda\n  sparsity: 0.5\ntrain: {}\n", "key 'train' is unknown"},
                {"prune:\n  method: wanda\n  sparsity: 0.5\n  calib-batch: {a: 1}\n",
                        "key 'prune.calib-batch' must be a single value, found a mapping"},
                {"export:\n  from: data\n", "key 'export.from' is 'data'"},
                // the other method's options, even at their default values, as on the command line
                {"finetune:\n  method: ast\n  pattern: 2:4\n  pst-weight-rank: 8\n",
                        "key 'finetune.pst-weight-rank'", "'finetune.pst-weight-rank' applies to 'finetune.method' pst, not ast"},
                {"finetune:\n  method: pst\n  sparsity: 0.5\n  ast-decay: 1e-4\n  ast-kl-weight: 0.5\n",
                        "key 'finetune.ast-decay'", "'finetune.ast-decay', 'finetune.ast-kl-weight' apply to 'finetune.method' ast, not pst"},
                {"prune:\n  method: wanda\n  sparsity: 0.5\n  dsnot-sign-check: true\n",
                        "key 'prune.dsnot-sign-check'", "'prune.dsnot-sign-check' applies to 'prune.method' dsnot, not wanda"},
                {"prune: [\n", "is not valid YAML"},
        };
        for (String[] c : cases) {
            Path r = recipe(c[0]);
            Path run = tmp.resolve("never");
            Cli cli = Cli.run("run", r.toString(), "--out", run.toString());
            assertEquals(2, cli.exitCode(), c[0] + "\n" + cli);
            for (int i = 1; i < c.length; i++) {
                assertTrue(cli.err().contains(c[i]), "expected '" + c[i] + "' in: " + cli.err());
            }
            assertTrue(cli.err().contains("recipe.yaml"), cli.err());
            assertFalse(Files.exists(run), "nothing runs: " + c[0]);
        }
        Path noModel = tmp.resolve("no-model.yaml");
        Files.writeString(noModel, "prune:\n  method: wanda\n");
        Cli cli = Cli.run("run", noModel.toString(), "--out", tmp.resolve("never").toString());
        assertEquals(2, cli.exitCode());
        assertTrue(cli.err().contains("key 'model' is missing"), cli.err());
        Cli badSet = Cli.run("run", recipe("prune:\n  method: wanda\n  sparsity: 0.5\n").toString(), "--set",
                "prune.sparsity");
        assertEquals(2, badSet.exitCode());
        assertTrue(badSet.err().contains("--set prune.sparsity: expected KEY.PATH=VALUE"), badSet.err());
    }

    private static void deleteTree(Path p) throws Exception {
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        }
    }
}
