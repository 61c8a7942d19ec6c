package org.sparseft.sparsity;

import com.fasterxml.jackson.databind.JsonNode;
import org.sparseft.InvalidSettingException;
import org.sparseft.io.Json;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Which sparsity each prunable weight gets: a default pattern, and optionally per-layer overrides (non-uniform
 * sparsity, as OWL-style allocations give) from a JSON object whose keys are regular expressions searched in weight
 * names, tried in file order, and whose values are a ratio (unstructured) or an "N:M" string (or a ratio written as
 * a string, as {@link SparsityPattern#parse} reads it):
 * <pre>{"layers\\.0\\.": 0.3, "mlp\\.down_proj": "2:4"}</pre>
 */
public record SparsityPlan(SparsityPattern fallback, List<Rule> rules) {
    public record Rule(Pattern names, SparsityPattern pattern) {
    }

    public SparsityPlan {
        rules = List.copyOf(rules);
    }

    public static SparsityPlan uniform(SparsityPattern pattern) {
        return new SparsityPlan(pattern, List.of());
    }

    /** The pattern of weight {@code name}: the first rule that matches, else the fallback. */
    public SparsityPattern patternFor(String name) {
        for (Rule r : rules) {
            if (r.names().matcher(name).find()) {
                return r.pattern();
            }
        }
        return fallback;
    }

    /**
     * Parses the per-layer file's text.
     *
     * @param source the file's name, for messages
     */
    public static SparsityPlan parse(String source, byte[] json, SparsityPattern fallback) {
        String file = "{sparsity-per-layer} " + InvalidSettingException.literal(source);
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(json);
        } catch (IOException e) {
            throw new InvalidSettingException(file + ": not valid JSON (" + InvalidSettingException.literal(e.getMessage())
                    + ")");
        }
        if (root == null || !root.isObject()) {
            throw new InvalidSettingException(file + ": expected a JSON object of"
                    + InvalidSettingException.literal(" {\"name regex\": ratio or \"N:M\"}"));
        }
        List<Rule> rules = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String where = file + ", key \"" + InvalidSettingException.literal(e.getKey()) + "\"";
            Pattern names;
            try {
                names = Pattern.compile(e.getKey());
            } catch (PatternSyntaxException x) {
                throw new InvalidSettingException(where + ": not a regular expression ("
                        + InvalidSettingException.literal(x.getDescription()) + ")");
            }
            JsonNode v = e.getValue();
            SparsityPattern p;
            if (v.isNumber()) {
                p = plan(where, () -> new SparsityPattern.Unstructured(v.asDouble()));
            } else if (v.isTextual()) {
                p = plan(where, () -> SparsityPattern.parse(v.asText()));
            } else {
                throw new InvalidSettingException(where + ": expected a ratio in [0, 1) or an \"N:M\" string, got "
                        + InvalidSettingException.literal(v));
            }
            rules.add(new Rule(names, p));
        }
        return new SparsityPlan(fallback, rules);
    }

    /** The pattern {@code parse} makes of a rule's value, its refusal placed at the rule. */
    private static SparsityPattern plan(String where, Supplier<SparsityPattern> parse) {
        try {
            return parse.get();
        } catch (InvalidSettingException x) {
            throw new InvalidSettingException(where + ": " + x.template());
        }
    }

    /** "N:M" when every weight gets the same N:M pattern, else "unstructured" (compressed-tensors' vocabulary). */
    public String structure(Iterable<String> weights) {
        String s = null;
        for (String w : weights) {
            String t = patternFor(w).structure();
            if (s != null && !s.equals(t)) {
                return "unstructured";
            }
            s = t;
        }
        return s == null ? fallback.structure() : s;
    }
}
