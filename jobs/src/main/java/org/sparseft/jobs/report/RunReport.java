package org.sparseft.jobs.report;

import com.fasterxml.jackson.databind.JsonNode;
import org.sparseft.driver.train.MetricsLines;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;
import org.sparseft.jobs.pipeline.Pipeline;
import org.sparseft.jobs.pipeline.Recipe;
import org.sparseft.jobs.pipeline.StageRecord;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
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
    /** The report's JSON file in the run directory. */
    public static final String JSON_FILE = "report.json";
    /** The report's Markdown file in the run directory. */
    public static final String MARKDOWN_FILE = "report.md";
    /** The decoder layer a tensor belongs to: model.layers.N. (LLaMA) or [transformer.]h.N. (GPT-2). */
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)(?:layers|h)\\.(\\d+)\\.");
    private static final int WIDTH = 900;
    private static final int HEIGHT = 560;

    private final Storage storage;
    private final String run;
    /** Each fine-tune's metrics, read once by {@link #stages} and drawn by {@link #plots}. */
    private final Map<String, Metrics> metricsByStage = new java.util.HashMap<>();

    private RunReport(Storage storage, String run) {
        this.storage = storage;
        this.run = run;
    }

    /** Writes report.json, report.md and the plots; returns the Markdown. */
    public static String write(Storage storage, Recipe recipe, String run, List<Pipeline.StageResult> results,
                               double seconds) throws IOException {
        RunReport r = new RunReport(storage, run);
        List<ReportFile.Stage> stages = r.stages(results);
        List<String> references = new ArrayList<>();
        List<String> plots = r.plots(stages, references);
        ReportFile report = new ReportFile(recipe.source(), run, recipe.model(), seconds, BuildInfo.current().asMap(),
                config(recipe), stages, plots, references);
        storage.writeAtomically(Storage.join(run, JSON_FILE), Json.PRETTY.writeValueAsBytes(report));
        String md = markdown(report);
        storage.writeAtomically(Storage.join(run, MARKDOWN_FILE), md.getBytes(StandardCharsets.UTF_8));
        return md;
    }

    private List<ReportFile.Stage> stages(List<Pipeline.StageResult> results) throws IOException {
        List<ReportFile.Stage> stages = new ArrayList<>();
        for (Pipeline.StageResult s : results) {
            String record = Storage.join(Storage.join(run, "stages"), s.name() + ".json");
            String configHash = storage.exists(record) ? StageRecord.read(storage, record).configSha256() : null;
            String method = null;
            String structure = null;
            Double global = null;
            Map<String, Double> layers = null;
            Map<String, Double> tensors = null;
            ReportFile.Training training = null;
            String sparsityFile = Storage.join(s.output(), "sparsity.json");
            if ((s.kind() == Recipe.Kind.PRUNE || s.kind() == Recipe.Kind.FINETUNE) && storage.exists(sparsityFile)) {
                JsonNode sparsity = read(sparsityFile);
                method = sparsity.path("method").asText()
                        + (sparsity.has("update") ? " + " + sparsity.at("/update/method").asText() + " update" : "")
                        + (sparsity.has("recovery") ? " + block-wise recovery (" + sparsity.at("/recovery/steps").asInt()
                        + " steps)" : "");
                structure = sparsity.path("structure").asText() + (sparsity.has("owl") ? ", OWL profile" : "");
                global = sparsity.path("global_sparsity").asDouble();
                layers = layerSparsity(sparsity);
                Map<String, Double> perTensor = new LinkedHashMap<>();
                sparsity.path("tensors").fields().forEachRemaining(e -> perTensor.put(e.getKey(),
                        e.getValue().path("sparsity").asDouble()));
                tensors = perTensor;
                if (s.kind() == Recipe.Kind.FINETUNE) {
                    training = training(sparsity, s);
                }
            }
            Map<String, Double> perplexity = null;
            Integer windows = null;
            if (s.kind() == Recipe.Kind.EVALUATE) {
                perplexity = perplexities(s, results);
                String dense = Storage.join(s.output(), "dense.json");
                if (storage.exists(dense)) {
                    windows = read(dense).path("windows").asInt();
                }
            }
            stages.add(new ReportFile.Stage(s.name(), s.kind().name().toLowerCase(Locale.ROOT),
                    s.skipped() ? "skipped" : "ran", s.seconds(), s.output(), configHash, method, structure, global,
                    layers, tensors, training, perplexity, windows));
        }
        return stages;
    }

    /** The recipe as it ran (after --set): model, Spark settings and each stage's options. */
    private static ReportFile.RecipeAsRun config(Recipe recipe) {
        Map<String, Map<String, Object>> stages = new LinkedHashMap<>();
        recipe.stages().values().forEach(st -> {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("kind", st.kind().name().toLowerCase(Locale.ROOT));
            st.options().forEach((k, v) -> o.put(k, v.size() == 1 ? v.get(0) : List.copyOf(v)));
            stages.put(st.name(), o);
        });
        return new ReportFile.RecipeAsRun(recipe.model(), recipe.master(), recipe.conf(), stages);
    }

    /** A fine-tune's figures, from its sparsity.json and metrics.jsonl. */
    private ReportFile.Training training(JsonNode sparsity, Pipeline.StageResult s) throws IOException {
        JsonNode t = sparsity.path("training");
        JsonNode method = sparsity.path(sparsity.path("method").asText());
        Long trained = method.has("trained_parameters") ? method.get("trained_parameters").asLong() : null;
        JsonNode v = sparsity.path("validation");
        boolean validated = v.has("perplexity_after");
        String objective = !method.has("kl_weight") ? null // AST: what its objective is made of, for the plot's label
                : String.format(Locale.ROOT, "%s·CE + %s·τ²·KL, τ = %s", method.path("task_weight").asText(),
                method.path("kl_weight").asText(), method.path("temperature").asText());
        Metrics m = metrics(s);
        if (m != null) {
            metricsByStage.put(s.name(), m);
        }
        int steps = t.path("steps").asInt();
        return new ReportFile.Training(steps, t.path("sync").asText(), t.path("partitions").asInt(),
                t.path("resumed_at_step").asInt(), t.path("final_train_loss").asDouble(), t.path("seconds").asDouble(),
                trained, validated ? v.path("perplexity_before").asDouble() : null,
                validated ? v.path("perplexity_after").asDouble() : null, validated ? v.path("windows").asInt() : null,
                objective, m == null ? null : m.bytesBroadcast(), m == null ? null : m.bytesCollected(),
                m == null ? null : (double) (m.bytesBroadcast() + m.bytesCollected()) / Math.max(1, steps),
                m == null || m.flipRate().isEmpty() ? null : m.flipRate().lastEntry().getValue());
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
        Map<String, Double> out = new LinkedHashMap<>();
        byLayer.forEach((layer, acc) -> out.put(Integer.toString(layer), (double) acc[0] / acc[1]));
        if (other[1] > 0) {
            out.put("other", (double) other[0] / other[1]);
        }
        return out;
    }

    private Map<String, Double> perplexities(Pipeline.StageResult evaluate, List<Pipeline.StageResult> results)
            throws IOException {
        Map<String, Double> ppl = new LinkedHashMap<>();
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

    /**
     * Draws the plots that the run has figures for; returns their file names, and adds the labels of the reference
     * lines drawn to {@code referenceLabels}.
     */
    private List<String> plots(List<ReportFile.Stage> stages, List<String> referenceLabels) throws IOException {
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
        for (ReportFile.Stage s : stages) {
            String name = s.name();
            if (s.kind().equals("finetune")) {
                Metrics m = metricsByStage.get(name);
                ReportFile.Training t = s.training();
                if (m != null && t != null) {
                    // only cross-entropies share an axis: AST's objective mixes in the distillation term
                    if (t.objective() != null) {
                        addSeries(objectives, name, m.loss());
                        objectiveLabels.add(name + ": " + t.objective());
                    } else {
                        addSeries(loss, name + " training", m.loss());
                    }
                    addSeries(loss, name + " validation", m.valLoss());
                    addSeries(ppl, name, m.valPpl());
                    addSeries(flips, name, m.flipRate());
                    if (!m.valPpl().isEmpty()) {
                        curveWindows.add(t.valWindows() == null ? 0 : t.valWindows());
                    }
                }
            }
            if (s.layerSparsity() != null) {
                if (layers.isEmpty()) {
                    layers.addAll(s.layerSparsity().keySet());
                }
                List<Double> values = new ArrayList<>();
                layers.forEach(k -> values.add(s.layerSparsity().getOrDefault(k, 0.0)));
                sparsity.add(new BarChart.Series(name, values));
            }
            if (s.perplexity() != null && s.perplexity().containsKey("dense")) {
                referenceWindows = s.perplexityWindows() == null ? 0 : s.perplexityWindows();
                references.add(new LineChart.Reference("dense, same " + referenceWindows + " windows",
                        s.perplexity().get("dense")));
            }
        }
        if (!curveWindows.equals(java.util.Set.of(referenceWindows))) {
            references.clear(); // a reference line measured on other windows than the curves would mislead
        }
        references.forEach(ref -> referenceLabels.add(ref.label()));
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

    private static String markdown(ReportFile r) {
        StringBuilder md = new StringBuilder("# sparseft run\n\n");
        md.append(String.format(Locale.ROOT, "Recipe `%s`, model `%s`, run `%s`, %.1f s.%n%n", r.recipe(), r.model(),
                r.run(), r.seconds()));
        Map<String, String> v = r.versions();
        md.append(String.format("sparseft %s on Java %s, Spark %s, Hadoop %s, ND4J %s (%s).%n%n", v.get("sparseft"),
                v.get("java"), v.get("spark"), v.get("hadoop"), v.get("nd4j"), v.get("nd4j_backend")));
        md.append("| stage | kind | status | seconds | result |\n|---|---|---|---:|---|\n");
        for (ReportFile.Stage s : r.stages()) {
            String result = s.method() != null ? String.format(Locale.ROOT, "%s %s, sparsity %.4f", s.method(),
                    s.structure(), s.globalSparsity()) : s.output();
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %.1f | %s |%n", s.name(), s.kind(), s.status(),
                    s.seconds(), result));
        }
        for (ReportFile.Stage s : r.stages()) {
            if (s.perplexity() != null) {
                md.append("\nValidation perplexity (").append(s.name())
                        .append("):\n\n| model | perplexity |\n|---|---:|\n");
                s.perplexity().forEach((model, ppl) -> md.append(String.format(Locale.ROOT, "| %s | %.4f |%n", model,
                        ppl)));
            }
        }
        List<ReportFile.Stage> tuned = r.stages().stream().filter(s -> s.training() != null).toList();
        if (!tuned.isEmpty()) {
            md.append("\nFine-tuning:\n\n| stage | steps | sync | final training objective | val ppl before | val ppl after"
                    + " | MB moved | MB per step |\n|---|---:|---|---:|---:|---:|---:|---:|\n");
            for (ReportFile.Stage s : tuned) {
                ReportFile.Training t = s.training();
                md.append(String.format(Locale.ROOT, "| %s | %d | %s | %.4f | %s | %s | %s | %s |%n", s.name(),
                        t.steps(), t.sync(), t.finalTrainLoss(), fixed(t.valPplBefore()), fixed(t.valPplAfter()),
                        megabytes(t.bytesBroadcast() != null ? t.bytesBroadcast() + t.bytesCollected() : -1),
                        megabytes(t.bytesPerStep() != null ? (long) t.bytesPerStep().doubleValue() : -1)));
            }
        }
        List<ReportFile.Stage> sparse = r.stages().stream().filter(s -> s.layerSparsity() != null).toList();
        if (!sparse.isEmpty()) {
            md.append("\nSparsity of each decoder layer's prunable linears:\n\n| layer |");
            sparse.forEach(s -> md.append(' ').append(s.name()).append(" |"));
            md.append("\n|---|").append("---:|".repeat(sparse.size())).append('\n');
            sparse.get(0).layerSparsity().keySet().forEach(layer -> {
                md.append("| ").append(layer).append(" |");
                sparse.forEach(s -> md.append(String.format(Locale.ROOT, " %.4f |",
                        s.layerSparsity().getOrDefault(layer, 0.0))));
                md.append('\n');
            });
        }
        if (!r.plots().isEmpty()) {
            md.append("\nPlots:");
            r.plots().forEach(p -> md.append(" `").append(p).append('`'));
            md.append('\n');
        }
        return md.toString();
    }

    private static String fixed(Double value) {
        return value == null ? "" : String.format(Locale.ROOT, "%.4f", value);
    }

    private static String megabytes(long bytes) {
        return bytes < 0 ? "" : String.format(Locale.ROOT, "%.1f", bytes / 1e6);
    }
}
