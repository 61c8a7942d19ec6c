package org.sparseft.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.jobs.pipeline.Pipeline;
import org.sparseft.jobs.pipeline.Recipe;
import org.sparseft.jobs.report.LineChart;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code sparseft run}: a recipe's stages as one re-runnable pipeline, then its report. */
@Command(name = "run", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = {"Run a recipe (YAML): the input model and stages data, prune, finetune, evaluate, export, each"
                + " with its command's options (flag names without dashes). Each stage writes <out>/<stage>/; running"
                + " the same recipe again skips finished stages, resumes an interrupted fine-tune from its last"
                + " checkpoint, and refuses a stage whose configuration changed unless --force.",
                "Examples: deploy/recipes/*.yaml."})
public final class RunCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "RECIPE.yaml", description = "The recipe (any Hadoop FS URI).")
    String recipePath;

    @Option(names = "--out", paramLabel = "URI", description = "Run directory (default: runs/<recipe name>).")
    String out;

    @Option(names = "--set", paramLabel = "KEY.PATH=VALUE", description = "Override a recipe key, repeatable, e.g."
            + " --set data.path=hdfs:///corpus/dt=2026-11-23 --set finetune.steps=500.")
    List<String> sets = new ArrayList<>();

    @Option(names = "--force", description = "Redo stages whose configuration changed since they finished.")
    boolean force;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Override
    public Integer call() throws Exception {
        Storage storage = HadoopStorage.withDefaults();
        if (!storage.exists(recipePath)) {
            throw org.sparseft.BadInputException.at(recipePath, "recipe does not exist");
        }
        Recipe recipe = Recipe.parse(new String(storage.readAllBytes(recipePath), StandardCharsets.UTF_8),
                recipePath, sets);
        String name = recipePath.substring(recipePath.lastIndexOf('/') + 1).replaceFirst("\\.ya?ml$", "");
        String run = storage.qualify(out != null ? out : "runs/" + name);
        PrintWriter w = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        long t0 = System.nanoTime();
        List<Pipeline.StageResult> results = new Pipeline(storage, recipe, run, force, w, err).run();
        String md = writeReport(storage, recipe, run, results, (System.nanoTime() - t0) / 1e9);
        w.print(md);
        w.printf("%nreport: %s/report.md%n", run);
        w.flush();
        return Main.OK;
    }

    /** Writes report.json, report.md and val_ppl.png into the run directory; returns the Markdown. */
    static String writeReport(Storage storage, Recipe recipe, String run, List<Pipeline.StageResult> results,
                              double seconds) throws java.io.IOException {
        ObjectNode report = report(storage, recipe, run, results, seconds);
        storage.writeAtomically(Storage.join(run, "report.json"), JSON.writeValueAsBytes(report));
        String md = markdown(report);
        storage.writeAtomically(Storage.join(run, "report.md"), md.getBytes(StandardCharsets.UTF_8));
        plot(storage, run, results);
        return md;
    }

    private static ObjectNode report(Storage storage, Recipe recipe, String run, List<Pipeline.StageResult> results,
                                     double seconds) throws java.io.IOException {
        ObjectNode r = JSON.createObjectNode();
        r.put("recipe", recipe.source()).put("run", run).put("model", recipe.model()).put("seconds", seconds);
        r.put("sparseft", String.valueOf(Main.class.getPackage().getImplementationVersion()));
        ArrayNode stages = r.putArray("stages");
        for (Pipeline.StageResult s : results) {
            ObjectNode n = stages.addObject().put("name", s.name()).put("kind", s.kind().name()
                    .toLowerCase(Locale.ROOT)).put("status", s.skipped() ? "skipped" : "ran")
                    .put("seconds", s.seconds()).put("output", s.output());
            String sparsity = Storage.join(s.output(), "sparsity.json");
            if ((s.kind() == Recipe.Kind.PRUNE || s.kind() == Recipe.Kind.FINETUNE) && storage.exists(sparsity)) {
                JsonNode j = JSON.readTree(storage.readAllBytes(sparsity));
                n.put("method", j.path("method").asText()).put("structure", j.path("structure").asText())
                        .put("global_sparsity", j.path("global_sparsity").asDouble());
            }
            if (s.kind() == Recipe.Kind.EVALUATE) { // the input, then the models in stage order
                ObjectNode ppl = n.putObject("perplexity");
                List<String> models = new ArrayList<>(List.of("dense"));
                results.stream().filter(x -> x.kind() == Recipe.Kind.PRUNE || x.kind() == Recipe.Kind.FINETUNE)
                        .forEach(x -> models.add(x.name()));
                for (String m : models) {
                    String f = Storage.join(s.output(), m + ".json");
                    if (storage.exists(f)) {
                        ppl.put(m, JSON.readTree(storage.readAllBytes(f)).path("perplexity").asDouble());
                    }
                }
            }
        }
        return r;
    }

    private static String markdown(JsonNode r) {
        StringBuilder md = new StringBuilder("# sparseft run\n\n");
        md.append(String.format("Recipe `%s`, model `%s`, run `%s`, %.1f s.%n%n", r.get("recipe").asText(),
                r.get("model").asText(), r.get("run").asText(), r.get("seconds").asDouble()));
        md.append("| stage | kind | status | seconds | result |\n|---|---|---|---:|---|\n");
        for (JsonNode s : r.get("stages")) {
            String result = s.has("method") ? String.format("%s %s, sparsity %.4f", s.get("method").asText(),
                    s.get("structure").asText(), s.get("global_sparsity").asDouble()) : s.get("output").asText();
            md.append(String.format("| %s | %s | %s | %.1f | %s |%n", s.get("name").asText(), s.get("kind").asText(),
                    s.get("status").asText(), s.get("seconds").asDouble(), result));
        }
        for (JsonNode s : r.get("stages")) {
            if (s.has("perplexity")) {
                md.append("\nValidation perplexity (").append(s.get("name").asText())
                        .append("):\n\n| model | perplexity |\n|---|---:|\n");
                s.get("perplexity").fields().forEachRemaining(e -> md.append(String.format("| %s | %.4f |%n",
                        e.getKey(), e.getValue().asDouble())));
            }
        }
        return md.toString();
    }

    /** Validation perplexity against step of every fine-tuning stage that measured it, into val_ppl.png. */
    private static void plot(Storage storage, String run, List<Pipeline.StageResult> results)
            throws java.io.IOException {
        List<LineChart.Series> series = new ArrayList<>();
        for (Pipeline.StageResult s : results) {
            String metrics = Storage.join(s.output() + ".run", "metrics.jsonl");
            if (s.kind() == Recipe.Kind.FINETUNE && storage.exists(metrics)) {
                String text = new String(storage.readAllBytes(metrics), StandardCharsets.UTF_8);
                if (text.contains("\"val_ppl\"")) {
                    series.add(new LineChart.Series(s.name(), LineChart.fromMetrics(text, "val_ppl", metrics)));
                }
            }
        }
        if (!series.isEmpty()) {
            storage.writeAtomically(Storage.join(run, "val_ppl.png"), LineChart.png("Validation perplexity", "step",
                    "perplexity", series, List.of(), 900, 560));
        }
    }
}
