package org.sparseft.jobs.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.sparseft.BadInputException;
import org.sparseft.InvalidSettingException;
import org.sparseft.RuntimeFailure;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;
import org.sparseft.io.tokenizer.Tokenizers;
import org.sparseft.jobs.evaluate.EvaluateService;
import org.sparseft.jobs.evaluate.EvaluateSpec;
import org.sparseft.jobs.finetune.FinetuneService;
import org.sparseft.jobs.finetune.FinetuneSpec;
import org.sparseft.jobs.prune.PruneService;
import org.sparseft.jobs.prune.PruneSpec;
import org.sparseft.jobs.service.CheckpointCopy;
import org.sparseft.jobs.service.JobContext;
import org.sparseft.jobs.service.LazySession;
import org.sparseft.jobs.service.Progress;
import org.sparseft.jobs.spec.SpecBinding;
import org.sparseft.jobs.spec.UnknownSettingException;
import org.sparseft.jobs.tokenize.TokenizeService;
import org.sparseft.jobs.tokenize.TokenizeSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Runs a {@link Recipe}'s stages in order under one run directory, as schedulers need it re-runnable: stage
 * {@code NAME} writes {@code <run>/NAME/} (atomically, ending in {@code _SUCCESS}) and records its configuration
 * hash in {@code <run>/stages/NAME.json}. On a re-run a finished stage with the same hash is skipped, one with
 * another hash is refused unless {@code force}, and an interrupted fine-tune resumes from its last checkpoint
 * ({@code <run>/NAME.run}).
 *
 * <p>A stage's keys are its job's settings: each stage is bound to the job's spec (the same one the command line
 * and the Java API make) before anything runs, with the inputs and outputs the pipeline chains in, and runs through
 * the job's service on one Spark session for the whole recipe. Mistakes are named by their key path
 * ({@code prune.sparsity}).
 */
public final class Pipeline {
    /** The marker a finished stage leaves in its output directory. */
    public static final String SUCCESS = "_SUCCESS";

    /** What a finished stage offers later ones. */
    private record Output(String name, Recipe.Kind kind, String hash, String path, String train, String validation,
                          String seqLen) {
    }

    /** One job of a stage: its settings (what the hash covers) and how it runs on a session. */
    private record Job(String label, ObjectNode settings, Runner runner) {
    }

    private interface Runner {
        void run(JobContext context) throws Exception;
    }

    /** A stage's jobs, the hash that identifies its result, and where the result goes. */
    private record Plan(List<Job> jobs, String hash, String output) {
    }

    /** Per stage: whether it ran or was skipped, and how long it took. */
    public record StageResult(String name, Recipe.Kind kind, boolean skipped, double seconds, String output) {
    }

    /** Keys the pipeline sets itself, per stage kind: inputs, outputs, run directories. */
    private static final Map<Recipe.Kind, Set<String>> RESERVED = Map.of(
            Recipe.Kind.PRUNE, Set.of("model", "out", "force", "calib", "tokens"),
            Recipe.Kind.FINETUNE, Set.of("model", "out", "force", "run", "resume", "data", "tokens", "validation"),
            Recipe.Kind.EVALUATE, Set.of("model", "out", "force", "dump-logits", "dump-n"),
            Recipe.Kind.DATA, Set.of(),
            Recipe.Kind.EXPORT, Set.of());
    private static final Set<String> DATA_KEYS = Set.of("path", "validation", "seqlen", "tokenizer", "text-field",
            "format");
    private static final Set<String> EXPORT_KEYS = Set.of("path", "from");

    private final Storage storage;
    private final Recipe recipe;
    private final String run;
    private final boolean force;
    private final PrintWriter err;
    private final String model;

    /**
     * A pipeline of {@code recipe} under the run directory {@code run}; {@code force} redoes stages whose
     * configuration changed; progress goes to {@code err}.
     */
    public Pipeline(Storage storage, Recipe recipe, String run, boolean force, PrintWriter err) {
        this.storage = storage;
        this.recipe = recipe;
        this.run = run;
        this.force = force;
        this.err = err;
        this.model = storage.qualify(recipe.model());
    }

    /**
     * Checks every stage's settings against its job's spec before anything runs (unknown keys, wrong types, values
     * out of range, keys the pipeline sets itself, missing inputs), then runs the stages on {@code spark}, started
     * when the first stage needs it.
     */
    public List<StageResult> run(LazySession spark) throws IOException {
        List<Plan> plans = plan();
        List<StageResult> results = new ArrayList<>();
        Iterator<Plan> it = plans.iterator();
        for (Recipe.Stage stage : recipe.stages().values()) {
            results.add(execute(stage, it.next(), spark));
        }
        return results;
    }

    /** The checks of {@link #run} alone, without running anything. */
    public void check() throws IOException {
        plan();
    }

    private List<Plan> plan() throws IOException {
        Map<String, Output> outputs = new LinkedHashMap<>();
        Output data = null;
        Output lastModel = null;
        List<Plan> plans = new ArrayList<>();
        for (Recipe.Stage stage : recipe.stages().values()) {
            String dir = Storage.join(run, stage.name());
            Plan plan = switch (stage.kind()) {
                case DATA -> dataPlan(stage, dir);
                case PRUNE, FINETUNE -> modelPlan(stage, dir, data, outputs);
                case EVALUATE -> evaluatePlan(stage, dir, data, outputs);
                case EXPORT -> exportPlan(stage, dir, lastModel, outputs);
            };
            Output o = new Output(stage.name(), stage.kind(), plan.hash(), plan.output(),
                    stage.kind() == Recipe.Kind.DATA ? tokensOf(stage, dir, "path", "train") : null,
                    stage.kind() == Recipe.Kind.DATA ? tokensOf(stage, dir, "validation", "validation") : null,
                    value(stage, "seqlen", "256"));
            outputs.put(stage.name(), o);
            if (stage.kind() == Recipe.Kind.DATA) {
                data = o;
            } else if (stage.kind() == Recipe.Kind.PRUNE || stage.kind() == Recipe.Kind.FINETUNE) {
                lastModel = o;
            }
            plans.add(plan);
        }
        return plans;
    }

    private StageResult execute(Recipe.Stage stage, Plan plan, LazySession spark) throws IOException {
        String record = Storage.join(Storage.join(run, "stages"), stage.name() + ".json");
        boolean finished = storage.exists(Storage.join(plan.output(), SUCCESS));
        String recorded = storage.exists(record) ? StageRecord.read(storage, record).configSha256() : null;
        if (finished && plan.hash().equals(recorded)) {
            err.printf("[%s] finished earlier with the same configuration: skipped (%s)%n", stage.name(),
                    plan.output());
            err.flush();
            return new StageResult(stage.name(), stage.kind(), true, 0, plan.output());
        }
        boolean changed = recorded != null && !plan.hash().equals(recorded);
        if (changed && !force) {
            throw BadInputException.at(recipe.source(), "stage '" + stage.name() + "' finished earlier in " + run
                    + " with another configuration (" + record + "); re-run with --force to redo it and the stages"
                    + " after it, or use a new --out");
        }
        long t0 = System.nanoTime();
        if (stage.kind() == Recipe.Kind.DATA || stage.kind() == Recipe.Kind.EVALUATE) {
            storage.mkdirs(plan.output());
            storage.delete(Storage.join(plan.output(), SUCCESS));
        }
        for (Job job : plan.jobs()) {
            err.printf("[%s] running %s%n", stage.name(), describe(job));
            err.flush();
            if (stage.kind() == Recipe.Kind.FINETUNE && !changed) {
                job.settings().put("resume", true); // continues an interrupted run; a fresh start without checkpoints
            }
            try {
                job.runner().run(new JobContext(spark.get(), new Progress(err), "sparseft run " + recipe.source()
                        + " (stage " + stage.name() + ")"));
            } catch (InvalidSettingException e) {
                throw BadInputException.at(recipe.source(), "stage '" + stage.name() + "': " + render(stage, e));
            } catch (RuntimeFailure e) { // its advice names recipe keys
                throw new RuntimeFailure(e.render(k -> "'" + stage.name() + "." + k + "'"), e);
            } catch (IOException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new RuntimeFailure("stage '" + stage.name() + "' failed: " + e.getMessage(), e);
            }
        }
        if (stage.kind() == Recipe.Kind.DATA || stage.kind() == Recipe.Kind.EVALUATE) {
            storage.writeAtomically(Storage.join(plan.output(), SUCCESS), new byte[0]);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        Map<String, ObjectNode> jobs = new LinkedHashMap<>();
        plan.jobs().forEach(j -> jobs.put(j.label(), j.settings()));
        storage.writeAtomically(record, Json.PRETTY.writeValueAsBytes(new StageRecord(stage.name(),
                stage.kind().name().toLowerCase(Locale.ROOT), plan.hash(), seconds, plan.output(), jobs)));
        err.printf("[%s] done in %.1f s%n", stage.name(), seconds);
        err.flush();
        return new StageResult(stage.name(), stage.kind(), false, seconds, plan.output());
    }

    private static String describe(Job job) {
        StringBuilder s = new StringBuilder(job.label()).append(':');
        job.settings().fields().forEachRemaining(e -> s.append(' ').append(e.getKey()).append('=')
                .append(e.getValue().isValueNode() ? e.getValue().asText() : e.getValue().toString()));
        return s.toString();
    }

    // --- plans -------------------------------------------------------------------------------------------------

    /** Pre-tokenized splits (.safetensors) are used where they are; text is tokenized into the stage directory. */
    private static boolean pretokenized(String path) {
        return path.endsWith(".safetensors");
    }

    private String tokensOf(Recipe.Stage stage, String dir, String key, String split) {
        String path = stage.option(key);
        if (path == null) {
            return null;
        }
        return pretokenized(path) ? storage.qualify(path) : Storage.join(dir, split + ".safetensors");
    }

    private Plan dataPlan(Recipe.Stage stage, String dir) throws IOException {
        for (String key : stage.options().keySet()) {
            if (!DATA_KEYS.contains(key)) {
                throw unknown(stage, key, DATA_KEYS);
            }
        }
        if (stage.option("path") == null) {
            throw BadInputException.at(recipe.source(), "key '" + stage.name() + ".path' is missing: the training"
                    + " text (a file, directory or glob on any Hadoop FS; it may carry a date, e.g."
                    + " hdfs:///corpus/dt=2026-11-23)");
        }
        List<Job> jobs = new ArrayList<>();
        List<String> hashed = new ArrayList<>();
        Map<String, String> splits = new LinkedHashMap<>();
        splits.put("train", "path");
        splits.put("validation", "validation");
        for (Map.Entry<String, String> split : splits.entrySet()) {
            String path = stage.option(split.getValue());
            if (path == null) {
                continue;
            }
            String key = stage.name() + "." + split.getValue();
            if (pretokenized(path)) {
                hashed.add(split.getKey() + "=" + path);
                jobs.add(new Job(split.getKey(), SpecBinding.settings().put("tokens", path), context -> {
                    if (!storage.exists(path)) {
                        throw BadInputException.at(path, "token file does not exist (" + key + ")");
                    }
                }));
                continue;
            }
            ObjectNode settings = SpecBinding.settings().put("data", path)
                    .put("out", Storage.join(dir, split.getKey() + ".safetensors")).put("force", true)
                    .put("seqlen", value(stage, "seqlen", "256"))
                    .put("tokenizer", value(stage, "tokenizer", Tokenizers.present(storage, model) ? model
                            : Tokenizers.BYTE));
            for (String k : List.of("text-field", "format")) {
                if (stage.option(k) != null) {
                    settings.put(k, stage.option(k));
                }
            }
            TokenizeSpec spec = bind(stage, settings, TokenizeSpec.class);
            hashed.add(split.getKey() + "=" + canonical(settings));
            jobs.add(new Job(split.getKey(), settings, context -> TokenizeService.run(spec, context)));
        }
        return new Plan(jobs, hash(hashed), dir);
    }

    private Plan modelPlan(Recipe.Stage stage, String dir, Output data, Map<String, Output> outputs) {
        boolean prune = stage.kind() == Recipe.Kind.PRUNE;
        if (data == null) {
            throw BadInputException.at(recipe.source(), "stage '" + stage.name() + "' needs a data stage before it"
                    + " (its " + (prune ? "calibration" : "training") + " text)");
        }
        Output from = from(stage, outputs);
        ObjectNode settings = stageSettings(stage);
        settings.put("model", from == null ? model : from.path()).put("out", dir).put("force", true)
                .put("tokens", data.train());
        if (!prune) {
            settings.put("run", dir + ".run");
            if (data.validation() != null) {
                settings.put("validation", data.validation());
            }
        }
        if (stage.option("seqlen") == null) { // the data stage's blocks, unless the stage re-cuts them
            settings.put("seqlen", data.seqLen());
        }
        String hash = hash(List.of(canonical(settings)), data.hash(), from == null ? "" : from.hash());
        Job job;
        if (prune) {
            PruneSpec spec = bind(stage, settings, PruneSpec.class);
            job = new Job("prune", settings, context -> PruneService.run(spec, context));
        } else {
            bind(stage, settings, FinetuneSpec.class); // checked now; bound again with resume when it runs
            job = new Job("finetune", settings, context -> FinetuneService.run(bind(stage, settings,
                    FinetuneSpec.class), context));
        }
        return new Plan(List.of(job), hash, dir);
    }

    private Plan evaluatePlan(Recipe.Stage stage, String dir, Output data, Map<String, Output> outputs) {
        ObjectNode common = stageSettings(stage);
        boolean ownData = common.has("data") || common.has("tokens");
        if (!ownData && (data == null || data.validation() == null)) {
            throw BadInputException.at(recipe.source(), "stage '" + stage.name() + "' needs validation text: give"
                    + " it 'data' (or 'tokens'), or a data stage with 'validation' before it");
        }
        if (!ownData) {
            common.put("tokens", data.validation());
        }
        if (stage.option("seqlen") == null && data != null) {
            common.put("seqlen", data.seqLen());
        }
        Map<String, String> models = new LinkedHashMap<>();
        models.put("dense", model);
        List<String> hashed = new ArrayList<>(List.of(canonical(common), "dense=" + model));
        for (Output o : outputs.values()) {
            if (o.kind() == Recipe.Kind.PRUNE || o.kind() == Recipe.Kind.FINETUNE) {
                models.put(o.name(), o.path());
                hashed.add(o.name() + "=" + o.hash());
            }
        }
        if (data != null) {
            hashed.add(data.hash());
        }
        List<Job> jobs = new ArrayList<>();
        for (Map.Entry<String, String> m : models.entrySet()) {
            ObjectNode settings = common.deepCopy().put("model", m.getValue())
                    .put("out", Storage.join(dir, m.getKey() + ".json")).put("force", true);
            EvaluateSpec spec = bind(stage, settings, EvaluateSpec.class);
            jobs.add(new Job(m.getKey(), settings, context -> EvaluateService.run(spec, context)));
        }
        return new Plan(jobs, hash(hashed), dir);
    }

    private Plan exportPlan(Recipe.Stage stage, String dir, Output lastModel, Map<String, Output> outputs) {
        for (String key : stage.options().keySet()) {
            if (!EXPORT_KEYS.contains(key)) {
                throw unknown(stage, key, EXPORT_KEYS);
            }
        }
        Output from = from(stage, outputs);
        if (from == null) {
            from = lastModel;
        }
        if (from == null) {
            throw BadInputException.at(recipe.source(), "stage '" + stage.name() + "' has nothing to export: put a"
                    + " prune or finetune stage before it");
        }
        String source = from.path();
        String target = stage.option("path") != null ? storage.qualify(stage.option("path")) : dir;
        ObjectNode settings = SpecBinding.settings().put("from", source).put("path", target);
        return new Plan(List.of(new Job("export", settings, context -> CheckpointCopy.copy(storage, source, target))),
                hash(List.of("export", source, target), from.hash()), target);
    }

    private Output from(Recipe.Stage stage, Map<String, Output> outputs) {
        String name = stage.option("from");
        if (name == null) {
            return null;
        }
        Output o = outputs.get(name);
        if (o == null || (o.kind() != Recipe.Kind.PRUNE && o.kind() != Recipe.Kind.FINETUNE)) {
            throw BadInputException.at(recipe.source(), "key '" + stage.name() + ".from' is '" + name + "'; expected"
                    + " the name of an earlier prune or finetune stage");
        }
        return o;
    }

    // --- settings ----------------------------------------------------------------------------------------------

    /** The stage's own keys as settings (a list is a repeated setting), refusing those the pipeline sets. */
    private ObjectNode stageSettings(Recipe.Stage stage) {
        ObjectNode settings = SpecBinding.settings();
        Set<String> reserved = RESERVED.get(stage.kind());
        for (Map.Entry<String, List<String>> e : stage.options().entrySet()) {
            String key = e.getKey();
            if (key.equals("from") && stage.kind() != Recipe.Kind.EVALUATE) {
                continue;
            }
            if (reserved.contains(key)) {
                throw BadInputException.at(recipe.source(), "key '" + stage.name() + "." + key + "' is set by the"
                        + " pipeline (inputs, outputs, run directories and Spark come from the recipe's model, its"
                        + " stages, --out and 'spark'); remove it");
            }
            List<String> values = e.getValue();
            if (values.size() == 1) {
                settings.put(key, values.get(0));
            } else {
                values.forEach(settings.putArray(key)::add);
            }
        }
        return settings;
    }

    /** The stage's settings bound to its spec, mistakes named by key path. */
    private <S> S bind(Recipe.Stage stage, ObjectNode settings, Class<S> type) {
        try {
            return SpecBinding.bind(settings, type);
        } catch (UnknownSettingException e) {
            Set<String> takes = new TreeSet<>(e.known());
            takes.removeAll(RESERVED.get(stage.kind()));
            throw unknown(stage, e.settings().get(0), takes);
        } catch (InvalidSettingException e) {
            throw BadInputException.at(recipe.source(), render(stage, e));
        }
    }

    /** "key 'prune.sparsity' 1.5: expected a fraction in [0, 1)". */
    private static String render(Recipe.Stage stage, InvalidSettingException e) {
        String m = e.render(k -> "'" + stage.name() + "." + k + "'");
        return m.startsWith("'") ? "key " + m : m;
    }

    private BadInputException unknown(Recipe.Stage stage, String key, java.util.Collection<String> known) {
        return BadInputException.at(recipe.source(), "key '" + stage.name() + "." + key + "' is unknown; a "
                + stage.kind().name().toLowerCase(Locale.ROOT) + " stage takes "
                + String.join(", ", new TreeSet<>(known)) + (stage.kind() == Recipe.Kind.PRUNE
                || stage.kind() == Recipe.Kind.FINETUNE || stage.kind() == Recipe.Kind.EXPORT ? ", from" : ""));
    }

    private static String value(Recipe.Stage stage, String key, String otherwise) {
        return stage.option(key) != null ? stage.option(key) : otherwise;
    }

    /** Settings with sorted keys, as text: the same settings give the same hash whatever order they were written. */
    private static String canonical(ObjectNode settings) {
        Map<String, JsonNode> sorted = new TreeMap<>();
        settings.fields().forEachRemaining(e -> sorted.put(e.getKey(), e.getValue()));
        return Json.MAPPER.valueToTree(sorted).toString();
    }

    private static String hash(List<String> parts, String... upstream) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String a : parts) {
                sha.update(a.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
            }
            for (String u : upstream) {
                sha.update(u.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 1);
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
