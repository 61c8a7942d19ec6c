package org.sparseft.jobs.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.sparseft.BadInputException;
import org.sparseft.RuntimeFailure;
import org.sparseft.io.AtomicOutput;
import org.sparseft.io.Storage;
import org.sparseft.io.tokenizer.Tokenizers;
import org.sparseft.jobs.EvaluateCommand;
import org.sparseft.jobs.FinetuneCommand;
import org.sparseft.jobs.Main;
import org.sparseft.jobs.PruneCommand;
import org.sparseft.jobs.TokenizeCommand;
import picocli.CommandLine;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs a {@link Recipe}'s stages in order under one run directory, as schedulers need it re-runnable: stage
 * {@code NAME} writes {@code <run>/NAME/} (atomically, ending in {@code _SUCCESS}) and records its configuration
 * hash in {@code <run>/stages/NAME.json}. On a re-run a finished stage with the same hash is skipped, one with
 * another hash is refused unless {@code force}, and an interrupted fine-tune resumes from its last checkpoint
 * ({@code <run>/NAME.run}). Every stage runs the same command as the CLI, in this JVM.
 */
public final class Pipeline {
    public static final String SUCCESS = "_SUCCESS";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** What a finished stage offers later ones. */
    private record Output(String name, Recipe.Kind kind, String hash, String path, String train, String validation,
                          String seqLen) {
    }

    /**
     * A stage's command line, the hash that identifies its result, and what it runs over: for a data stage the
     * text of each split, for evaluate each model by name; empty for the others.
     */
    private record Plan(List<String> args, String hash, String output, Map<String, String> over) {
        Plan(List<String> args, String hash, String output) {
            this(args, hash, output, Map.of());
        }
    }

    /** Per stage: whether it ran or was skipped, and how long it took. */
    public record StageResult(String name, Recipe.Kind kind, boolean skipped, double seconds, String output) {
    }

    private final Storage storage;
    private final Recipe recipe;
    private final String run;
    private final boolean force;
    private final PrintWriter out;
    private final PrintWriter err;
    private final String model;

    public Pipeline(Storage storage, Recipe recipe, String run, boolean force, PrintWriter out, PrintWriter err) {
        this.storage = storage;
        this.recipe = recipe;
        this.run = run;
        this.force = force;
        this.out = out;
        this.err = err;
        this.model = storage.qualify(recipe.model());
    }

    /**
     * Checks every stage's options against its command before anything runs (unknown keys, wrong types, keys the
     * pipeline sets itself, missing inputs), then runs the stages.
     */
    public List<StageResult> run() throws IOException {
        check();
        return plan(false);
    }

    /** The checks of {@link #run()} alone: every stage's options and inputs, without running anything. */
    public void check() throws IOException {
        plan(true);
    }

    private List<StageResult> plan(boolean dryRun) throws IOException {
        Map<String, Output> outputs = new LinkedHashMap<>();
        Output data = null;
        Output lastModel = null;
        List<StageResult> results = new ArrayList<>();
        for (Recipe.Stage stage : recipe.stages().values()) {
            String dir = Storage.join(run, stage.name());
            Plan plan = switch (stage.kind()) {
                case DATA -> dataPlan(stage, dir);
                case PRUNE, FINETUNE -> modelPlan(stage, dir, data, outputs);
                case EVALUATE -> evaluatePlan(stage, dir, data, outputs);
                case EXPORT -> exportPlan(stage, dir, lastModel, outputs);
            };
            Output o = new Output(stage.name(), stage.kind(), plan.hash(), plan.output(),
                    stage.kind() == Recipe.Kind.DATA ? tokensOf(plan, dir, "train") : null,
                    stage.kind() == Recipe.Kind.DATA ? tokensOf(plan, dir, "validation") : null,
                    value(stage, "seqlen", "256"));
            outputs.put(stage.name(), o);
            if (stage.kind() == Recipe.Kind.DATA) {
                data = o;
            } else if (stage.kind() == Recipe.Kind.PRUNE || stage.kind() == Recipe.Kind.FINETUNE) {
                lastModel = o;
            }
            if (!dryRun) {
                results.add(execute(stage, plan, dir));
            }
        }
        return results;
    }

    private StageResult execute(Recipe.Stage stage, Plan plan, String dir) throws IOException {
        String record = Storage.join(Storage.join(run, "stages"), stage.name() + ".json");
        boolean finished = storage.exists(Storage.join(plan.output(), SUCCESS));
        String recorded = storage.exists(record) ? JSON.readTree(storage.readAllBytes(record)).path("config_sha256")
                .asText() : null;
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
        boolean tokenizes = stage.kind() != Recipe.Kind.DATA
                || plan.over().values().stream().anyMatch(p -> !pretokenized(p));
        err.printf("[%s] %s%n", stage.name(), tokenizes ? "running: sparseft " + String.join(" ", plan.args())
                : "using the token files " + String.join(", ", plan.over().values()));
        err.flush();
        List<String> args = new ArrayList<>(plan.args());
        if (stage.kind() == Recipe.Kind.FINETUNE && !changed) {
            args.add("--resume"); // continues an interrupted run; a fresh start when there is no checkpoint
        }
        switch (stage.kind()) {
            case DATA -> runData(stage, plan, dir);
            case EVALUATE -> runEvaluate(stage, plan, dir);
            case EXPORT -> runExport(args, plan.output());
            default -> command(stage.name(), args);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        ObjectNode r = JSON.createObjectNode().put("stage", stage.name()).put("kind", stage.kind().name()
                .toLowerCase(java.util.Locale.ROOT)).put("config_sha256", plan.hash()).put("seconds", seconds)
                .put("output", plan.output());
        ArrayNode a = r.putArray("args");
        plan.args().forEach(a::add);
        storage.writeAtomically(record, JSON.writeValueAsBytes(r));
        err.printf("[%s] done in %.1f s%n", stage.name(), seconds);
        err.flush();
        return new StageResult(stage.name(), stage.kind(), false, seconds, plan.output());
    }

    // --- plans -------------------------------------------------------------------------------------------------

    private static final Set<String> DATA_KEYS = Set.of("path", "validation", "seqlen", "tokenizer", "text-field",
            "format");

    /** Pre-tokenized splits (.safetensors) are used where they are; text is tokenized into the stage directory. */
    private static boolean pretokenized(String path) {
        return path.endsWith(".safetensors");
    }

    private String tokensOf(Plan plan, String dir, String split) {
        String path = plan.over().get(split);
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
        List<String> args = new ArrayList<>(List.of("tokenize", "--seqlen", value(stage, "seqlen", "256"),
                "--tokenizer", value(stage, "tokenizer", Tokenizers.present(storage, model) ? model
                        : Tokenizers.BYTE)));
        for (String key : List.of("text-field", "format")) {
            if (stage.option(key) != null) {
                args.addAll(List.of("--" + key, stage.option(key)));
            }
        }
        Map<String, String> splits = new LinkedHashMap<>();
        splits.put("train", stage.option("path"));
        if (stage.option("validation") != null) {
            splits.put("validation", stage.option("validation"));
        }
        check(stage, new TokenizeCommand(), withSpark(concat(args, List.of("--data", stage.option("path"), "--out",
                "x.safetensors"))));
        List<String> hashed = new ArrayList<>(args);
        splits.forEach((split, path) -> hashed.add(split + "=" + path));
        return new Plan(withSpark(args), hash(hashed), dir, splits);
    }

    private static final Set<String> PRUNE_RESERVED = Set.of("model", "out", "force", "calib", "tokens", "master",
            "conf", "data");
    private static final Set<String> FINETUNE_RESERVED = Set.of("model", "out", "force", "run", "resume", "data",
            "tokens", "validation", "master", "conf");

    private Plan modelPlan(Recipe.Stage stage, String dir, Output data, Map<String, Output> outputs) {
        boolean prune = stage.kind() == Recipe.Kind.PRUNE;
        if (data == null) {
            throw BadInputException.at(recipe.source(), "stage '" + stage.name() + "' needs a data stage before it"
                    + " (its " + (prune ? "calibration" : "training") + " text)");
        }
        Output from = from(stage, outputs);
        String input = from == null ? model : from.path();
        List<String> args = new ArrayList<>(List.of(prune ? "prune" : "finetune", "--model", input, "--out", dir,
                "--force", "--tokens", data.train()));
        if (!prune) {
            args.addAll(List.of("--run", dir + ".run"));
            if (data.validation() != null) {
                args.addAll(List.of("--validation", data.validation()));
            }
        }
        Object command = prune ? new PruneCommand() : new FinetuneCommand();
        args.addAll(flags(stage, command, prune ? PRUNE_RESERVED : FINETUNE_RESERVED));
        if (stage.option("seqlen") == null) { // the data stage's blocks, unless the stage re-cuts them
            args.addAll(List.of("--seqlen", data.seqLen()));
        }
        List<String> full = withSpark(args);
        check(stage, command, full);
        return new Plan(full, hash(args, data.hash(), from == null ? "" : from.hash()), dir);
    }

    private static final Set<String> EVALUATE_RESERVED = Set.of("model", "out", "force", "master", "conf",
            "dump-logits", "dump-n");

    private Plan evaluatePlan(Recipe.Stage stage, String dir, Output data, Map<String, Output> outputs) {
        List<String> flags = flags(stage, new EvaluateCommand(), EVALUATE_RESERVED);
        boolean ownData = stage.options().containsKey("data") || stage.options().containsKey("tokens");
        if (!ownData && (data == null || data.validation() == null)) {
            throw BadInputException.at(recipe.source(), "stage '" + stage.name() + "' needs validation text: give"
                    + " it 'data' (or 'tokens'), or a data stage with 'validation' before it");
        }
        List<String> args = new ArrayList<>(List.of("evaluate"));
        if (!ownData) {
            args.addAll(List.of("--tokens", data.validation()));
        }
        args.addAll(flags);
        if (stage.option("seqlen") == null && data != null) {
            args.addAll(List.of("--seqlen", data.seqLen()));
        }
        check(stage, new EvaluateCommand(), withSpark(concat(args, List.of("--model", model))));
        Map<String, String> models = new LinkedHashMap<>();
        models.put("dense", model);
        List<String> hashed = new ArrayList<>(args);
        hashed.add("dense=" + model);
        for (Output o : outputs.values()) {
            if (o.kind() == Recipe.Kind.PRUNE || o.kind() == Recipe.Kind.FINETUNE) {
                models.put(o.name(), o.path());
                hashed.add(o.name() + "=" + o.hash());
            }
        }
        if (data != null) {
            hashed.add(data.hash());
        }
        return new Plan(withSpark(args), hash(hashed), dir, models);
    }

    private Plan exportPlan(Recipe.Stage stage, String dir, Output lastModel, Map<String, Output> outputs) {
        for (String key : stage.options().keySet()) {
            if (!Set.of("path", "from").contains(key)) {
                throw unknown(stage, key, Set.of("path", "from"));
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
        String target = stage.option("path") != null ? storage.qualify(stage.option("path")) : dir;
        List<String> args = List.of("export", from.path(), target);
        return new Plan(args, hash(args, from.hash()), target);
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

    // --- running -----------------------------------------------------------------------------------------------

    private void command(String stage, List<String> args) {
        int code = Main.run(args.toArray(String[]::new), out, err);
        if (code != Main.OK) {
            String why = "stage '" + stage + "' failed (exit " + code + ")";
            throw code == Main.BAD_INPUT ? new BadInputException(why) : new RuntimeFailure(why);
        }
    }

    private void runData(Recipe.Stage stage, Plan plan, String dir) throws IOException {
        storage.mkdirs(dir);
        storage.delete(Storage.join(dir, SUCCESS));
        for (Map.Entry<String, String> split : plan.over().entrySet()) {
            if (pretokenized(split.getValue())) {
                if (!storage.exists(split.getValue())) {
                    throw BadInputException.at(split.getValue(), "token file does not exist (" + stage.name() + "."
                            + (split.getKey().equals("train") ? "path" : "validation") + ")");
                }
                continue;
            }
            command(stage.name(), concat(plan.args(), List.of("--data", split.getValue(), "--out",
                    Storage.join(dir, split.getKey() + ".safetensors"), "--force")));
        }
        storage.writeAtomically(Storage.join(dir, SUCCESS), new byte[0]);
    }

    private void runEvaluate(Recipe.Stage stage, Plan plan, String dir) throws IOException {
        storage.mkdirs(dir);
        storage.delete(Storage.join(dir, SUCCESS));
        for (Map.Entry<String, String> m : plan.over().entrySet()) {
            command(stage.name() + " " + m.getKey(), concat(plan.args(), List.of("--model", m.getValue(), "--out",
                    Storage.join(dir, m.getKey() + ".json"), "--force")));
        }
        storage.writeAtomically(Storage.join(dir, SUCCESS), new byte[0]);
    }

    private void runExport(List<String> args, String target) throws IOException {
        String from = args.get(1);
        AtomicOutput.writeDirectory(storage, target, true, tmp -> {
            for (String name : storage.list(from)) {
                String src = Storage.join(from, name);
                if (storage.isDirectory(src)) {
                    continue;
                }
                copy(src, Storage.join(tmp, name));
            }
        });
    }

    private void copy(String from, String to) throws IOException {
        try (Storage.RandomAccessInput in = storage.openRandomAccess(from); OutputStream o = storage.create(to)) {
            for (long pos = 0; pos < in.length(); pos += 1 << 24) {
                java.nio.ByteBuffer b = in.read(pos, (int) Math.min(1 << 24, in.length() - pos));
                byte[] chunk = new byte[b.remaining()];
                b.get(chunk);
                o.write(chunk);
            }
        }
    }

    // --- options -----------------------------------------------------------------------------------------------

    private List<String> withSpark(List<String> args) {
        List<String> a = new ArrayList<>(args);
        if (recipe.master() != null) {
            a.addAll(List.of("--master", recipe.master()));
        }
        recipe.conf().forEach((k, v) -> a.addAll(List.of("--conf", k + "=" + v)));
        return a;
    }

    /** The stage's options as flags, each checked to be an option of the command and not one the pipeline sets. */
    private List<String> flags(Recipe.Stage stage, Object command, Set<String> reserved) {
        CommandLine.Model.CommandSpec spec = new CommandLine(command).getCommandSpec();
        List<String> flags = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : stage.options().entrySet()) {
            String key = e.getKey();
            if (key.equals("from")) {
                continue;
            }
            if (reserved.contains(key)) {
                throw BadInputException.at(recipe.source(), "key '" + stage.name() + "." + key + "' is set by the"
                        + " pipeline (inputs, outputs, run directories and Spark come from the recipe's model, its"
                        + " stages, --out and 'spark'); remove it");
            }
            CommandLine.Model.OptionSpec option = key.startsWith("-") ? null : spec.findOption("--" + key);
            if (option == null || option.usageHelp() || option.versionHelp()) {
                List<String> known = new ArrayList<>();
                spec.options().forEach(o -> {
                    String n = o.longestName().replaceFirst("^--", "");
                    if (!reserved.contains(n) && !o.usageHelp() && !o.versionHelp()) {
                        known.add(n);
                    }
                });
                throw unknown(stage, key, known);
            }
            if (option.arity().max() == 0) {
                String v = e.getValue().get(0);
                if (!v.equals("true") && !v.equals("false")) {
                    throw BadInputException.at(recipe.source(), "key '" + stage.name() + "." + key + "' is a switch:"
                            + " expected true or false, found '" + v + "'");
                }
                if (v.equals("true")) {
                    flags.add("--" + key);
                }
                continue;
            }
            for (String v : e.getValue()) {
                flags.add("--" + key);
                flags.add(v);
            }
        }
        return flags;
    }

    private static final Pattern OPTION = Pattern.compile("'--([a-z0-9-]+)'");

    /**
     * Parses the command line as the command would, so wrong types fail before any stage runs (a stage's options
     * of another method than its own are refused by its spec, when the stage runs).
     */
    private void check(Recipe.Stage stage, Object command, List<String> args) {
        try {
            new CommandLine(command).parseArgs(args.subList(1, args.size()).toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            Matcher m = OPTION.matcher(e.getMessage());
            String key = m.find() ? stage.name() + "." + m.group(1) : stage.name();
            throw BadInputException.at(recipe.source(), "key '" + key + "': " + e.getMessage());
        }
    }

    private BadInputException unknown(Recipe.Stage stage, String key, java.util.Collection<String> known) {
        return BadInputException.at(recipe.source(), "key '" + stage.name() + "." + key + "' is unknown; a "
                + stage.kind().name().toLowerCase(java.util.Locale.ROOT) + " stage takes "
                + String.join(", ", new java.util.TreeSet<>(known)) + (stage.kind() == Recipe.Kind.PRUNE
                || stage.kind() == Recipe.Kind.FINETUNE || stage.kind() == Recipe.Kind.EXPORT ? ", from" : ""));
    }

    private static String value(Recipe.Stage stage, String key, String otherwise) {
        return stage.option(key) != null ? stage.option(key) : otherwise;
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> c = new ArrayList<>(a);
        c.addAll(b);
        return c;
    }

    private static String hash(List<String> args, String... upstream) {
        try {
            java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
            for (String a : args) {
                sha.update(a.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
            }
            for (String u : upstream) {
                sha.update(u.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 1);
            }
            return java.util.HexFormat.of().formatHex(sha.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
