package org.sparseft.jobs;

import org.sparseft.jobs.service.Outputs;
import org.sparseft.jobs.service.Progress;
import org.apache.spark.sql.SparkSession;
import org.sparseft.data.BrownCorpus;
import org.sparseft.driver.SparkSessions;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.tokenizer.Tokenizers;
import org.sparseft.jobs.service.JobContext;
import org.sparseft.jobs.service.LazySession;
import org.sparseft.jobs.tokenize.TokenizeResult;
import org.sparseft.jobs.tokenize.TokenizeService;
import org.sparseft.jobs.tokenize.TokenizeSpec;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import org.sparseft.BadInputException;
import org.sparseft.jobs.data.BrownCorpusService;
import org.sparseft.jobs.pipeline.Pipeline;
import org.sparseft.jobs.report.RunReport;
import org.sparseft.jobs.pipeline.Recipe;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code sparseft demo}: the end-to-end pipeline on embedded defaults (local Spark, file:// storage, the Brown
 * corpus, the shipped demo model): data, then the recipe {@link #recipe} through {@link Pipeline}, as
 * {@code sparseft run} would run it. Finished stages are skipped when the demo is run again on the same directory.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = {"Run the demo pipeline on embedded defaults: local Spark, file:// storage, the Brown corpus and"
                + " the shipped demo model (deploy/demo/model).",
                "Stages: data (Brown corpus splits, tokenized on Spark), one-shot 2:4 pruning with Wanda and with"
                + " DSnoT, AST 2:4 and PST 50%% fine-tuning, evaluation of every model on the validation split, and"
                + " export of the AST model; then the results table and where the report is. About 8 minutes on 2"
                + " cores; --quick runs the same stages on tiny budgets (for CI)."})
public final class DemoCommand implements Callable<Integer> {
    static final int SEQ_LEN = 256;

    @Option(names = "--out", defaultValue = "demo-out", paramLabel = "DIR", description = "Run directory.")
    String out;

    @Option(names = "--model", paramLabel = "DIR", description = "The model to compress (default: the shipped"
            + " demo model, deploy/demo/model).")
    String model;

    @Option(names = "--quick", description = "Tiny budgets (a few steps and windows): checks the pipeline end to"
            + " end in about a minute; its figures mean nothing.")
    boolean quick;

    @Option(names = "--force", description = "Redo pipeline stages whose configuration changed (e.g. after --quick).")
    boolean force;

    @CommandLine.Mixin
    SparkOptions sparkOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Progress progress = new Progress(spec.commandLine().getErr());
        progress.step("starting Spark (" + (sparkOptions.master == null ? SparkSessions.DEFAULT_MASTER
                : sparkOptions.master) + ")");
        SparkSession spark = sparkOptions.session("sparseft demo");
        try {
            Storage storage = SparkSessions.storage(spark);
            String run = storage.qualify(out);
            Outputs.checkWritable(storage, "out", run);
            String data = Storage.join(run, "data/brown");
            if (storage.exists(Storage.join(data, HfCheckpointWriter.SUCCESS))) {
                progress.step("data: " + data + " exists, skipped");
            } else {
                progress.step("data: fetching and splitting the Brown corpus");
                BrownCorpusService.run(new BrownCorpusService.BrownCorpusSpec(data, BrownCorpus.DEFAULT_SEED, true),
                        storage, progress);
            }
            Map<String, TokenizeResult> tokenized = new LinkedHashMap<>();
            for (String split : BrownCorpus.SPLITS) {
                String tokens = Storage.join(run, "tokens/" + split + ".safetensors");
                if (storage.exists(tokens)) {
                    progress.step("tokenize: " + tokens + " exists, skipped");
                    tokenized.put(split, null);
                    continue;
                }
                TokenizeSpec job = TokenizeSpec.builder().data(Storage.join(data, split + ".txt"))
                        .tokenizer(Tokenizers.BYTE).seqlen(SEQ_LEN).out(tokens).build();
                tokenized.put(split, TokenizeService.run(job, new JobContext(spark, progress,
                        CommandSettings.invocation(spec))));
            }
            String report = report(run, tokenized, progress);
            storage.writeAtomically(Storage.join(run, "data-report.md"), report.getBytes(StandardCharsets.UTF_8));
            String modelDir = model != null ? model : shippedModel();
            String pipelineDir = Storage.join(run, quick ? "pipeline-quick" : "pipeline");
            Recipe r = Recipe.parse(recipe(modelDir, Storage.join(run, "tokens"), quick), "the demo recipe",
                    sparkOptions.master == null ? List.of() : List.of("spark.master=" + sparkOptions.master));
            progress.step("pipeline: " + pipelineDir + (quick ? " (--quick: tiny budgets, figures mean nothing)"
                    : ""));
            PrintWriter w = spec.commandLine().getOut();
            List<Pipeline.StageResult> results = new Pipeline(storage, r, pipelineDir, force,
                    spec.commandLine().getErr()).run(new LazySession(() -> spark));
            String table = RunReport.write(storage, r, pipelineDir, results, progress.seconds());
            w.print(report);
            w.println();
            w.print(table);
            w.printf("%nreport: %s/report.md (plots: %s/*.png)%n", pipelineDir, pipelineDir);
            w.flush();
            return Main.OK;
        } finally {
            SparkSessions.stop(spark);
        }
    }

    /**
     * The demo's stages. Full budgets: 128 calibration sequences, 80 steps of 8 x 256 tokens for AST and PST
     * (validation every 40 steps), validation and the final evaluation on the same first 100 windows, so that the
     * report's dense reference line and the fine-tuning curves are measured alike: about 8 minutes on 2 cores.
     */
    static String recipe(String model, String tokens, boolean quick) {
        int steps = quick ? 4 : 80;
        int every = quick ? 2 : 40;
        String windows = quick ? "2" : "100";
        String evalWindows = windows;
        return "model: " + model + "\n"
                + "data:\n  path: " + Storage.join(tokens, "train.safetensors") + "\n  validation: "
                + Storage.join(tokens, "validation.safetensors") + "\n  seqlen: " + (quick ? 64 : SEQ_LEN) + "\n"
                + "prune-wanda:\n  method: wanda\n  pattern: \"2:4\"\n  nsamples: " + (quick ? 4 : 128) + "\n"
                + "prune-dsnot:\n  method: dsnot\n  pattern: \"2:4\"\n  nsamples: " + (quick ? 4 : 128) + "\n"
                + "finetune-ast:\n  method: ast\n  pattern: \"2:4\"\n  steps: " + steps + "\n  batch: "
                + (quick ? 2 : 8) + "\n  checkpoint-every: " + every + "\n  eval-every: " + every
                + "\n  eval-windows: " + windows + "\n  log-every: " + every + "\n"
                + "finetune-pst:\n  method: pst\n  sparsity: 0.5\n  steps: " + steps + "\n  batch: "
                + (quick ? 2 : 8) + "\n  pst-weight-rank: 1\n  pst-mask-rank: 1\n  checkpoint-every: " + every
                + "\n  eval-every: " + every + "\n  eval-windows: " + windows + "\n  log-every: " + every + "\n"
                + "evaluate:\n  max-windows: " + evalWindows + "\n"
                + "export:\n  from: finetune-ast\n";
    }

    /** deploy/demo/model of this installation: beside the launcher's root, the working directory, or the jar. */
    static String shippedModel() {
        List<Path> candidates = new ArrayList<>();
        String home = System.getProperty("sparseft.home");
        if (home != null) {
            candidates.add(Path.of(home));
        }
        candidates.add(Path.of("").toAbsolutePath());
        candidates.add(Path.of("").toAbsolutePath().getParent());
        try {
            Path jar = Path.of(DemoCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            candidates.add(jar.getParent().getParent().getParent());
        } catch (Exception e) {
            // no jar location (e.g. classes directory without a code source): the other candidates remain
        }
        for (Path c : candidates) {
            if (c != null && Files.exists(c.resolve("deploy/demo/model/config.json"))) {
                return c.resolve("deploy/demo/model").toString();
            }
        }
        throw new BadInputException("the shipped demo model deploy/demo/model was not found (looked in " + candidates
                + "); run from the sparseft directory or give --model DIR");
    }
    private static String report(String run, Map<String, TokenizeResult> tokenized, Progress progress) {
        StringBuilder r = new StringBuilder();
        r.append("# sparseft demo\n\n");
        r.append("Run directory: `").append(run).append("`\n\n");
        r.append("| split | documents | blocks of ").append(SEQ_LEN).append(" byte tokens |\n|---|---:|---:|\n");
        tokenized.forEach((split, res) -> r.append("| ").append(split).append(" | ")
                .append(res == null ? "(earlier run)" : Long.toString(res.units())).append(" | ")
                .append(res == null ? "(earlier run)" : Integer.toString(res.blocks())).append(" |\n"));

        return r.toString();
    }
}
