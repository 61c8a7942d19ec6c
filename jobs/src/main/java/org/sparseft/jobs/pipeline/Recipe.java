package org.sparseft.jobs.pipeline;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.sparseft.BadInputException;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A pipeline recipe: the input model, Spark settings, and stages in the order written. A stage's key is its kind
 * ({@code data, prune, finetune, evaluate, export}), optionally with a label ({@code prune-wanda}); its options are
 * the kind's command-line flags without the dashes. Recipes are data: YAML tags and anchors that would construct
 * objects are not read, and nothing in a recipe is executed.
 *
 * @param source where the recipe came from, for messages
 * @param model the input model directory
 * @param master Spark master, or null (spark-submit's, else local)
 * @param conf Spark settings
 * @param stages stage name to its options (strings; a list is a repeated flag), in recipe order
 */
public record Recipe(String source, String model, String master, Map<String, String> conf,
                     LinkedHashMap<String, Stage> stages) {
    /** What a stage does; its key in the recipe is its kind, optionally with a label ({@code prune-wanda}). */
    public enum Kind {
        /** Text to token blocks. */
        DATA,
        /** One-shot pruning. */
        PRUNE,
        /** Sparse fine-tuning. */
        FINETUNE,
        /** Perplexity of the dense model and of each pruned or fine-tuned one. */
        EVALUATE,
        /** A pruned or fine-tuned model (the last one, or {@code from}) copied to its place. */
        EXPORT
    }

    /** One stage: its name in the recipe, its kind, and its options as flag values. */
    public record Stage(String name, Kind kind, LinkedHashMap<String, List<String>> options) {
        /** The first value of option {@code key}, or null when it is not given. */
        public String option(String key) {
            List<String> v = options.get(key);
            return v == null ? null : v.get(0);
        }
    }

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** Parses YAML text, applies {@code --set key.path=value} overrides, and checks the structure. */
    public static Recipe parse(String text, String source, List<String> sets) {
        JsonNode root;
        try {
            root = YAML.readTree(text);
        } catch (JacksonException e) {
            throw BadInputException.at(source, "is not valid YAML: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " (line " + e.getLocation().getLineNr() + ")" : ""));
        }
        if (root == null || !root.isObject()) {
            throw BadInputException.at(source, "expected a mapping with 'model' and stages (data, prune, finetune,"
                    + " evaluate, export)");
        }
        ObjectNode r = (ObjectNode) root;
        for (String set : sets) {
            apply(r, set, source);
        }
        String model = null;
        String master = null;
        Map<String, String> conf = new LinkedHashMap<>();
        LinkedHashMap<String, Stage> stages = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = r.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            JsonNode v = e.getValue();
            switch (key) {
                case "model" -> model = scalar(v, key, source);
                case "spark" -> {
                    object(v, key, source);
                    for (Iterator<Map.Entry<String, JsonNode>> s = v.fields(); s.hasNext(); ) {
                        Map.Entry<String, JsonNode> f = s.next();
                        switch (f.getKey()) {
                            case "master" -> master = scalar(f.getValue(), "spark.master", source);
                            case "conf" -> {
                                object(f.getValue(), "spark.conf", source);
                                f.getValue().fields().forEachRemaining(c -> conf.put(c.getKey(),
                                        scalar(c.getValue(), "spark.conf." + c.getKey(), source)));
                            }
                            default -> throw BadInputException.at(source, "key 'spark." + f.getKey()
                                    + "' is unknown; expected master or conf");
                        }
                    }
                }
                default -> stages.put(key, stage(key, v, source));
            }
        }
        if (model == null) {
            throw BadInputException.at(source, "key 'model' is missing: the input model directory");
        }
        if (stages.isEmpty()) {
            throw BadInputException.at(source, "has no stages; expected some of data, prune, finetune, evaluate,"
                    + " export");
        }
        return new Recipe(source, model, master, conf, stages);
    }

    private static Stage stage(String name, JsonNode v, String source) {
        String kindName = name.contains("-") ? name.substring(0, name.indexOf('-')) : name;
        Kind kind;
        try {
            kind = Kind.valueOf(kindName.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw BadInputException.at(source, "key '" + name + "' is unknown; expected model, spark, or a stage:"
                    + " data, prune, finetune, evaluate, export (optionally with a label, e.g. prune-wanda)");
        }
        if (v.isNull()) {
            return new Stage(name, kind, new LinkedHashMap<>());
        }
        object(v, name, source);
        LinkedHashMap<String, List<String>> options = new LinkedHashMap<>();
        v.fields().forEachRemaining(f -> {
            String path = name + "." + f.getKey();
            List<String> values = new ArrayList<>();
            if (f.getValue().isArray()) {
                f.getValue().forEach(x -> values.add(scalar(x, path, source)));
            } else {
                values.add(scalar(f.getValue(), path, source));
            }
            options.put(f.getKey(), values);
        });
        return new Stage(name, kind, options);
    }

    private static void object(JsonNode v, String path, String source) {
        if (!v.isObject()) {
            throw BadInputException.at(source, "key '" + path + "' must be a mapping of options, found "
                    + describe(v));
        }
    }

    private static String scalar(JsonNode v, String path, String source) {
        if (!v.isValueNode() || v.isNull()) {
            throw BadInputException.at(source, "key '" + path + "' must be a single value, found " + describe(v));
        }
        return v.asText();
    }

    private static String describe(JsonNode v) {
        return v.isObject() ? "a mapping" : v.isArray() ? "a list" : v.isNull() ? "nothing" : "'" + v.asText() + "'";
    }

    /** {@code a.b.c=value}: sets a scalar (read as YAML, so numbers stay numbers), creating mappings on the way. */
    private static void apply(ObjectNode root, String set, String source) {
        int eq = set.indexOf('=');
        if (eq <= 0) {
            throw new BadInputException("--set " + set + ": expected KEY.PATH=VALUE, e.g. data.path=hdfs:///corpus");
        }
        String[] path = set.substring(0, eq).split("\\.");
        JsonNode value;
        try {
            value = YAML.readTree(set.substring(eq + 1));
        } catch (JacksonException e) {
            throw new BadInputException("--set " + set + ": the value is not a YAML scalar");
        }
        if (value == null || value.isMissingNode()) {
            value = YAML.getNodeFactory().textNode("");
        }
        ObjectNode at = root;
        for (int i = 0; i < path.length - 1; i++) {
            JsonNode next = at.get(path[i]);
            if (next == null || next.isNull()) {
                next = at.putObject(path[i]);
            } else if (!next.isObject()) {
                throw new BadInputException("--set " + set + ": '" + String.join(".", List.of(path).subList(0,
                        i + 1)) + "' in " + source + " is not a mapping");
            }
            at = (ObjectNode) next;
        }
        at.set(path[path.length - 1], value);
    }
}
