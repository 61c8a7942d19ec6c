package org.sparseft.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.sql.SparkSession;
import org.sparseft.driver.SparkSessions;
import org.sparseft.jobs.service.JobContext;
import org.sparseft.jobs.service.Progress;
import org.sparseft.jobs.spec.SpecBinding;
import picocli.CommandLine;

import java.io.PrintWriter;
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

    /** A job's service: runs a spec on a session. */
    interface Service<S, R> {
        R run(S spec, JobContext context) throws Exception;
    }

    /** How a command prints its job's result. */
    interface Summary<R> {
        void print(R result, PrintWriter out, Progress progress);
    }

    /**
     * What every Spark command does: the options given bound to the job's spec (checked before Spark starts), a
     * session from the command's Spark options, the service run on it, its result printed, the session stopped.
     */
    static <S, R> int runOnSpark(CommandLine.Model.CommandSpec command, SparkOptions sparkOptions, Class<S> specType,
                                 Service<S, R> service, Summary<R> summary) throws Exception {
        S job = SpecBinding.bind(given(command), specType);
        Progress progress = new Progress(command.commandLine().getErr());
        progress.step("starting Spark");
        SparkSession spark = sparkOptions.session("sparseft " + command.name());
        try {
            R result = service.run(job, new JobContext(spark, progress, invocation(command)));
            PrintWriter out = command.commandLine().getOut();
            summary.print(result, out, progress);
            out.flush();
            return Main.OK;
        } finally {
            SparkSessions.stop(spark);
        }
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
