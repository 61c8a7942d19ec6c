package org.sparseft.jobs;

import org.sparseft.jobs.service.Outputs;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.driver.SparkSessions;
import org.sparseft.jobs.pipeline.Pipeline;
import org.sparseft.jobs.service.LazySession;
import org.sparseft.jobs.pipeline.Recipe;
import org.sparseft.jobs.report.RunReport;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
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
        Outputs.checkWritable(storage, "out", run);
        PrintWriter w = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        long t0 = System.nanoTime();
        List<Pipeline.StageResult> results;
        try (LazySession spark = new LazySession(() -> SparkSessions.create("sparseft run " + name, recipe.master(),
                recipe.conf()))) {
            results = new Pipeline(storage, recipe, run, force, err).run(spark);
        }
        String md = RunReport.write(storage, recipe, run, results, (System.nanoTime() - t0) / 1e9);
        w.print(md);
        w.printf("%nreport: %s/report.md%n", run);
        w.flush();
        return Main.OK;
    }
}
