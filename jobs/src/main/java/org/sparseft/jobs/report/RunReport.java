package org.sparseft.jobs.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.sparseft.io.Storage;
import org.sparseft.jobs.pipeline.Pipeline;
import org.sparseft.jobs.pipeline.Recipe;
import org.sparseft.io.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The report of a pipeline run, written into its run directory: {@code report.json} (the recipe as run, versions,
 * timings, perplexities, per-layer sparsity, training figures and bytes moved), {@code report.md} (the same as
 * tables) and PNG plots: training and validation loss, validation perplexity, per-layer sparsity and (AST) the
 * mask flip rate. Every figure is read back from what the stages wrote ({@code sparsity.json}, {@code
 * metrics.jsonl}, evaluate's {@code <model>.json}), so the report says exactly what the outputs hold.
 */
public final class RunReport {
    public static final String JSON_FILE = "report.json";
    public static final String MARKDOWN_FILE = "report.md";
    /** The decoder layer a tensor belongs to: model.layers.N. (LLaMA) or [transformer.]h.N. (GPT-2). */
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)(?:layers|h)\\.(\\d+)\\.");
    private static final int WIDTH = 900;
    private static final int HEIGHT = 560;

    private final Storage storage;
    private final String run;
    /** Each fine-tune's metrics, read once by {@link #build} and drawn by {@link #plots}. */
    private final Map<String, Metrics> metricsByStage = new java.util.HashMap<>();

    private RunReport(Storage storage, String run) {
        this.storage = storage;
        this.run = run;
    }

    /** Writes report.json, report.md and the plots; returns the Markdown. */
    public static String write(Storage storage, Recipe recipe, String run, List<Pipeline.StageResult> results,
                               double seconds) throws IOException {
        RunReport r = new RunReport(storage, run);
        ObjectNode report = r.build(recipe, results, seconds);
        ArrayNode plots = report.putArray("plots");
        r.plots(report).forEach(plots::add);
        storage.writeAtomically(Storage.join(run, JSON_FILE), Json.PRETTY.writeValueAsBytes(report));
        String md = markdown(report);
        storage.writeAtomically(Storage.join(run, MARKDOWN_FILE), md.getBytes(StandardCharsets.UTF_8));
        return md;
    }

    private ObjectNode build(Recipe recipe, List<Pipeline.StageResult> results, double seconds) throws IOException {
        ObjectNode r = Json.MAPPER.createObjectNode();
        r.put("recipe", recipe.source()).put("run", run).put("model", recipe.model()).put("seconds", seconds);
        r.set("versions", Json.MAPPER.valueToTree(BuildInfo.current().asMap()));
        r.set("config", config(recipe));
        ArrayNode stages = r.putArray("stages");
        for (Pipeline.StageResult s : results) {
            ObjectNode n = stages.addObject().put("name", s.name()).put("kind", s.kind().name()
                    .toLowerCase(Locale.ROOT)).put("status", s.skipped() ? "skipped" : "ran")
                    .put("seconds", s.seconds()).put("output", s.output());
            String record = Storage.join(Storage.join(run, "stages"), s.name() + ".json");
            if (storage.exists(record)) {
                n.put("config_sha256", read(record).path("config_sha256").asText());
            }
            String sparsity = Storage.join(s.output(), "sparsity.json");
            if ((s.kind() == Recipe.Kind.PRUNE || s.kind() == Recipe.Kind.FINETUNE) && storage.exists(sparsity)) {
                modelFigures(n, read(sparsity), s);
            }
            if (s.kind() == Recipe.Kind.EVALUATE) {
                n.set("perplexity", perplexities(s, results));
                String dense = Storage.join(s.output(), "dense.json");
                if (storage.exists(dense)) {
                    n.put("perplexity_windows", read(dense).path("windows").asInt());
                }
            }
        }
        return r;
    }

    /** The recipe as it ran (after --set): model, Spark settings and each stage's options. */
    private static ObjectNode config(Recipe recipe) {
        ObjectNode c = Json.MAPPER.createObjectNode().put("model", recipe.model());
        if (recipe.master() != null) {
            c.put("spark_master", recipe.master());
        }
        c.set("spark_conf", Json.MAPPER.valueToTree(recipe.conf()));
        ObjectNode stages = c.putObject("stages");
        recipe.stages().values().forEach(st -> {
            ObjectNode o = stages.putObject(st.name()).put("kind", st.kind().name().toLowerCase(Locale.ROOT));
            st.options().forEach((k, v) -> {
                if (v.size() == 1) {
                    o.put(k, v.get(0));
                } else {
                    v.forEach(o.withArray(k)::add);
                }
            });
        });
        return c;
    }

    private void modelFigures(ObjectNode n, JsonNode sparsity, Pipeline.StageResult s) throws IOException {
        n.put("method", sparsity.path("method").asText()).put("structure", sparsity.path("structure").asText())
                .put("global_sparsity", sparsity.path("global_sparsity").asDouble());
        ObjectNode layers = n.putObject("layer_sparsity");
        layerSparsity(sparsity).forEach(layers::put);
        ObjectNode tensors = n.putObject("tensor_sparsity");
        sparsity.path("tensors").fields().forEachRemaining(e -> tensors.put(e.getKey(),
                e.getValue().path("sparsity").asDouble()));
        if (s.kind() != Recipe.Kind.FINETUNE) {
            return;
        }
        JsonNode t = sparsity.path("training");
        ObjectNode training = n.putObject("training").put("steps", t.path("steps").asInt())
                .put("sync", t.path("sync").asText()).put("partitions", t.path("partitions").asInt())
                .put("resumed_at_step", t.path("resumed_at_step").asInt())
                .put("final_train_loss", t.path("final_train_loss").asDouble())
                .put("seconds", t.path("seconds").asDouble());
        JsonNode method = sparsity.path(sparsity.path("method").asText());
        if (method.has("trained_parameters")) {
            training.put("trained_parameters", method.get("trained_parameters").asLong());
        }
        JsonNode v = sparsity.path("validation");
        if (v.has("perplexity_after")) {
            training.put("val_ppl_before", v.path("perplexity_before").asDouble())
                    .put("val_ppl_after", v.path("perplexity_after").asDouble())
                    .put("val_windows", v.path("windows").asInt());
        }
        if (method.has("kl_weight")) { // AST: what its training objective is made of, for the plot's label
            training.put("objective", String.format(Locale.ROOT, "%s·CE + %s·τ²·KL, τ = %s",
                    method.path("task_weight").asText(), method.path("kl_weight").asText(),
                    method.path("temperature").asText()));
        }
        Metrics m = metrics(s);
        if (m != null) {
            metricsByStage.put(s.name(), m);
            training.put("bytes_broadcast", m.bytesBroadcast()).put("bytes_collected", m.bytesCollected())
                    .put("bytes_per_step", (double) (m.bytesBroadcast() + m.bytesCollected())
                            / Math.max(1, t.path("steps").asInt()));
            if (!m.flipRate().isEmpty()) {
                training.put("mask_flip_rate_last", m.flipRate().lastEntry().getValue());
            }
        }
    }

    /** Sparsity of each decoder layer's prunable linears together (pruned over total), by layer index. */
    static Map<String, Double> layerSparsity(JsonNode sparsity) {
        Map<Integer, long[]> byLayer = new TreeMap<>();
        long[] other = new long[2];
        sparsity.path("tensors").fields().forEachRemaining(e -> {
            Matcher m = LAYER.matcher(e.getKey());
            long[] acc = m.find() ? byLayer.computeIfAbsent(Integer.parseInt(m.group(1)), k -> new long[2]) : other;
            acc[0] += e.getValue().path("pruned").asLong();
            acc[1] += e.getValue().path("total").asLong();
        });
        Map<String, Double> out = new java.util.LinkedHashMap<>();
        byLayer.forEach((layer, acc) -> out.put(Integer.toString(layer), (double) acc[0] / acc[1]));
        if (other[1] > 0) {
            out.put("other", (double) other[0] / other[1]);
        }
        return out;
    }

    private JsonNode perplexities(Pipeline.StageResult evaluate, List<Pipeline.StageResult> results)
            throws IOException {
        ObjectNode ppl = Json.MAPPER.createObjectNode();
        List<String> models = new ArrayList<>(List.of("dense"));
        results.stream().filter(x -> x.kind() == Recipe.Kind.PRUNE || x.kind() == Recipe.Kind.FINETUNE)
                .forEach(x -> models.add(x.name()));
        for (String m : models) {
            String f = Storage.join(evaluate.output(), m + ".json");
            if (storage.exists(f)) {
                ppl.put(m, read(f).path("perplexity").asDouble());
            }
        }
        return ppl;
    }

    /** A fine-tune's metrics.jsonl by step (a step logged twice, as after a resume, counts once: the last). */
    private record Metrics(TreeMap<Integer, Double> loss, TreeMap<Integer, Double> valLoss,
                           TreeMap<Integer, Double> valPpl, TreeMap<Integer, Double> flipRate, long bytesBroadcast,
                           long bytesCollected) {
    }

    /** The stage's metrics (its run directory is {@code <output>.run}), or null when it logged none. */
    private Metrics metrics(Pipeline.StageResult s) throws IOException {
        String file = Storage.join(s.output() + ".run", "metrics.jsonl");
        if (!storage.exists(file)) {
            return null;
        }
        TreeMap<Integer, Double> loss = new TreeMap<>();
        TreeMap<Integer, Double> valLoss = new TreeMap<>();
        TreeMap<Integer, Double> valPpl = new TreeMap<>();
        TreeMap<Integer, Double> flip = new TreeMap<>();
        TreeMap<Integer, long[]> bytes = new TreeMap<>();
        String text = new String(storage.readAllBytes(file), StandardCharsets.UTF_8);
        for (JsonNode n : MetricsLines.parse(text, file)) {
            int step = n.path("step").asInt();
            if (n.has("loss")) {
                loss.put(step, n.get("loss").asDouble());
                bytes.put(step, new long[] {n.path("bytes_broadcast").asLong(), n.path("bytes_collected").asLong()});
            }
            if (n.has("val_loss")) {
                valLoss.put(step, n.get("val_loss").asDouble());
            }
            if (n.has("val_ppl")) {
                valPpl.put(step, n.get("val_ppl").asDouble());
            }
            if (n.has("mask_flip_rate")) {
                flip.put(step, n.get("mask_flip_rate").asDouble());
            }
        }
        long broadcast = bytes.values().stream().mapToLong(b -> b[0]).sum();
        long collected = bytes.values().stream().mapToLong(b -> b[1]).sum();
        return new Metrics(loss, valLoss, valPpl, flip, broadcast, collected);
    }

    /** Draws the plots that the run has figures for; returns their file names. */
    private List<String> plots(ObjectNode report) throws IOException {
        List<String> written = new ArrayList<>();
        List<LineChart.Series> loss = new ArrayList<>();
        List<LineChart.Series> objectives = new ArrayList<>();
        List<String> objectiveLabels = new ArrayList<>();
        java.util.Set<Integer> curveWindows = new java.util.TreeSet<>();
        List<LineChart.Series> ppl = new ArrayList<>();
        List<LineChart.Series> flips = new ArrayList<>();
        List<String> layers = new ArrayList<>();
        List<BarChart.Series> sparsity = new ArrayList<>();
        List<LineChart.Reference> references = new ArrayList<>();
        int referenceWindows = -1;
        for (JsonNode s : report.get("stages")) {
            String name = s.get("name").asText();
            if (s.get("kind").asText().equals("finetune")) {
                Metrics m = metricsByStage.get(name);
                JsonNode t = s.path("training");
                if (m != null) {
                    // only cross-entropies share an axis: AST's objective mixes in the distillation term
                    if (t.has("objective")) {
                        addSeries(objectives, name, m.loss());
                        objectiveLabels.add(name + ": " + t.get("objective").asText());
                    } else {
                        addSeries(loss, name + " training", m.loss());
                    }
                    addSeries(loss, name + " validation", m.valLoss());
                    addSeries(ppl, name, m.valPpl());
                    addSeries(flips, name, m.flipRate());
                    if (!m.valPpl().isEmpty()) {
                        curveWindows.add(t.path("val_windows").asInt());
                    }
                }
            }
            if (s.has("layer_sparsity")) {
                List<Double> values = new ArrayList<>();
                JsonNode l = s.get("layer_sparsity");
                if (layers.isEmpty()) {
                    l.fieldNames().forEachRemaining(layers::add);
                }
                layers.forEach(k -> values.add(l.path(k).asDouble()));
                sparsity.add(new BarChart.Series(name, values));
            }
            if (s.path("perplexity").has("dense")) {
                referenceWindows = s.path("perplexity_windows").asInt();
                references.add(new LineChart.Reference("dense, same " + referenceWindows + " windows",
                        s.get("perplexity").get("dense").asDouble()));
            }
        }
        if (!curveWindows.equals(java.util.Set.of(referenceWindows))) {
            references.clear(); // a reference line measured on other windows than the curves would mislead
        }
        ArrayNode drawn = report.putArray("val_ppl_references");
        references.forEach(ref -> drawn.add(ref.label()));
        if (!loss.isEmpty()) {
            written.add(png("loss.png", LineChart.png("Cross-entropy: validation of every fine-tune, training of PST",
                    "step", "nats per token", loss, List.of(), WIDTH, HEIGHT)));
        }
        if (!objectives.isEmpty()) {
            written.add(png("ast_objective.png", LineChart.png("AST training objective (" + String.join("; ",
                    objectiveLabels) + ")", "step", "objective", objectives, List.of(), WIDTH, HEIGHT)));
        }
        if (!ppl.isEmpty()) {
            written.add(png("val_ppl.png", LineChart.png("Validation perplexity", "step", "perplexity", ppl,
                    references, WIDTH, HEIGHT)));
        }
        if (!flips.isEmpty()) {
            written.add(png("mask_flip_rate.png", LineChart.png("AST: share of mask entries changed at each"
                    + " re-selection", "step", "flip rate", flips, List.of(), WIDTH, HEIGHT)));
        }
        if (!sparsity.isEmpty()) {
            written.add(png("layer_sparsity.png", BarChart.png("Sparsity of each decoder layer's prunable linears",
                    "layer", "sparsity", layers, sparsity, 1.0, WIDTH, HEIGHT)));
        }
        return written;
    }

    private static void addSeries(List<LineChart.Series> to, String label, TreeMap<Integer, Double> points) {
        if (!points.isEmpty()) {
            List<double[]> p = new ArrayList<>();
            points.forEach((step, v) -> p.add(new double[] {step, v}));
            to.add(new LineChart.Series(label, p));
        }
    }

    private String png(String name, byte[] bytes) throws IOException {
        storage.writeAtomically(Storage.join(run, name), bytes);
        return name;
    }

    private JsonNode read(String file) throws IOException {
        return Json.MAPPER.readTree(storage.readAllBytes(file));
    }

    private static String markdown(JsonNode r) {
        StringBuilder md = new StringBuilder("# sparseft run\n\n");
        md.append(String.format(Locale.ROOT, "Recipe `%s`, model `%s`, run `%s`, %.1f s.%n%n",
                r.get("recipe").asText(), r.get("model").asText(), r.get("run").asText(), r.get("seconds").asDouble()));
        JsonNode v = r.get("versions");
        md.append(String.format("sparseft %s on Java %s, Spark %s, Hadoop %s, ND4J %s (%s).%n%n",
                v.get("sparseft").asText(), v.get("java").asText(), v.get("spark").asText(), v.get("hadoop").asText(),
                v.get("nd4j").asText(), v.get("nd4j_backend").asText()));
        md.append("| stage | kind | status | seconds | result |\n|---|---|---|---:|---|\n");
        for (JsonNode s : r.get("stages")) {
            String result = s.has("method") ? String.format(Locale.ROOT, "%s %s, sparsity %.4f",
                    s.get("method").asText(), s.get("structure").asText(), s.get("global_sparsity").asDouble())
                    : s.get("output").asText();
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %.1f | %s |%n", s.get("name").asText(),
                    s.get("kind").asText(), s.get("status").asText(), s.get("seconds").asDouble(), result));
        }
        for (JsonNode s : r.get("stages")) {
            if (s.has("perplexity")) {
                md.append("\nValidation perplexity (").append(s.get("name").asText())
                        .append("):\n\n| model | perplexity |\n|---|---:|\n");
                s.get("perplexity").fields().forEachRemaining(e -> md.append(String.format(Locale.ROOT,
                        "| %s | %.4f |%n", e.getKey(), e.getValue().asDouble())));
            }
        }
        List<JsonNode> tuned = new ArrayList<>();
        r.get("stages").forEach(s -> {
            if (s.has("training")) {
                tuned.add(s);
            }
        });
        if (!tuned.isEmpty()) {
            md.append("\nFine-tuning:\n\n| stage | steps | sync | final training objective | val ppl before | val ppl after"
                    + " | MB moved | MB per step |\n|---|---:|---|---:|---:|---:|---:|---:|\n");
            for (JsonNode s : tuned) {
                JsonNode t = s.get("training");
                md.append(String.format(Locale.ROOT, "| %s | %d | %s | %.4f | %s | %s | %s | %s |%n",
                        s.get("name").asText(), t.get("steps").asInt(), t.get("sync").asText(),
                        t.get("final_train_loss").asDouble(), fixed(t, "val_ppl_before"), fixed(t, "val_ppl_after"),
                        megabytes(t.has("bytes_broadcast") ? t.get("bytes_broadcast").asLong()
                                + t.get("bytes_collected").asLong() : -1),
                        megabytes(t.has("bytes_per_step") ? (long) t.get("bytes_per_step").asDouble() : -1)));
            }
        }
        List<JsonNode> sparse = new ArrayList<>();
        r.get("stages").forEach(s -> {
            if (s.has("layer_sparsity")) {
                sparse.add(s);
            }
        });
        if (!sparse.isEmpty()) {
            md.append("\nSparsity of each decoder layer's prunable linears:\n\n| layer |");
            sparse.forEach(s -> md.append(' ').append(s.get("name").asText()).append(" |"));
            md.append("\n|---|").append("---:|".repeat(sparse.size())).append('\n');
            sparse.get(0).get("layer_sparsity").fieldNames().forEachRemaining(layer -> {
                md.append("| ").append(layer).append(" |");
                sparse.forEach(s -> md.append(String.format(Locale.ROOT, " %.4f |",
                        s.get("layer_sparsity").path(layer).asDouble())));
                md.append('\n');
            });
        }
        if (r.has("plots") && !r.get("plots").isEmpty()) {
            md.append("\nPlots:");
            r.get("plots").forEach(p -> md.append(" `").append(p.asText()).append('`'));
            md.append('\n');
        }
        return md.toString();
    }

    private static String fixed(JsonNode n, String field) {
        return n.has(field) ? String.format(Locale.ROOT, "%.4f", n.get(field).asDouble()) : "";
    }

    private static String megabytes(long bytes) {
        return bytes < 0 ? "" : String.format(Locale.ROOT, "%.1f", bytes / 1e6);
    }
}
