package org.sparseft.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.sparseft.jobs.spec.SpecBinding;
import picocli.CommandLine;

import java.util.Set;
import java.util.function.Supplier;

/**
 * The command line as spec settings: each option the user gave, keyed by its name without dashes, bound to the
 * command's spec like a recipe stage's keys; options not given keep the spec builder's defaults, which picocli shows
 * in the help through {@link Defaults}.
 */
final class CommandSettings {
    /** Options of the command line that are not job settings: Spark's (the session), help and version. */
    private static final Set<String> NOT_SETTINGS = Set.of("master", "conf");

    private CommandSettings() {
    }

    /** The options given on the command line of {@code spec}'s command. */
    static ObjectNode given(CommandLine.Model.CommandSpec spec) {
        ObjectNode settings = SpecBinding.settings();
        for (CommandLine.Model.OptionSpec o : spec.commandLine().getParseResult().matchedOptions()) {
            String key = o.longestName().replaceFirst("^--", "");
            if (o.usageHelp() || o.versionHelp() || NOT_SETTINGS.contains(key)) {
                continue;
            }
            Object value = o.getValue();
            settings.set(key, SpecBinding.value(value));
        }
        return settings;
    }

    /** "sparseft prune --model ...": the command line, for provenance. */
    static String invocation(CommandLine.Model.CommandSpec spec) {
        return "sparseft " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
    }

    /** Picocli's defaults read from a spec builder, where they are declared. */
    abstract static class Defaults implements CommandLine.IDefaultValueProvider {
        private final ObjectNode defaults;

        Defaults(Supplier<Object> freshBuilder) {
            this.defaults = SpecBinding.defaults(freshBuilder.get());
        }

        @Override
        public String defaultValue(CommandLine.Model.ArgSpec arg) {
            if (!(arg instanceof CommandLine.Model.OptionSpec o)) {
                return null;
            }
            JsonNode v = defaults.get(o.longestName().replaceFirst("^--", ""));
            return v == null || v.isNull() || v.isContainerNode() ? null : v.asText();
        }
    }
}
