package org.sparseft.jobs;

import org.sparseft.jobs.service.Progress;
import org.sparseft.jobs.service.SparkProgress;
import org.apache.spark.sql.SparkSession;
import org.sparseft.BadInputException;
import org.sparseft.data.TokenFiles;
import org.sparseft.driver.SparkSessions;
import org.sparseft.io.Storage;
import org.sparseft.io.tokenizer.Tokenizer;
import org.sparseft.io.tokenizer.Tokenizers;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code sparseft tokenize}: text to fixed-length token blocks, in parallel on Spark. */
@Command(name = "tokenize", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = {"Tokenize text on Spark and cut it into blocks of --seqlen tokens (documents joined with the "
                + "end-of-text token, the tail dropped). Writes a safetensors file with an I32 tensor input_ids "
                + "[N, seqlen], which every job accepts as --tokens. With --tokens, re-cuts a token file."})
public final class TokenizeCommand implements Callable<Integer> {
    @CommandLine.Mixin
    InputOptions input;

    @Option(names = "--tokenizer", defaultValue = Tokenizers.BYTE, paramLabel = "byte|DIR",
            description = "'byte', or a directory with tokenizer.json or vocab.json + merges.txt (a model directory).")
    String tokenizer;

    @Option(names = "--seqlen", defaultValue = "256", paramLabel = "T", description = "Tokens per block.")
    int seqLen;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Output .safetensors file (any Hadoop FS URI).")
    String out;

    @Option(names = "--force", description = "Replace an existing output file.")
    boolean force;

    @CommandLine.Mixin
    SparkOptions sparkOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!out.endsWith(".safetensors")) {
            throw new BadInputException("--out " + out + ": expected a file name ending in .safetensors");
        }
        if (seqLen < 2) {
            throw new BadInputException("--seqlen " + seqLen + ": expected at least 2");
        }
        Progress progress = new Progress(spec.commandLine().getErr());
        progress.step("starting Spark");
        SparkSession spark = sparkOptions.session("sparseft tokenize");
        try {
            Storage storage = SparkSessions.storage(spark);
            Outputs.checkFile(storage, "--out", out, force);
            String tokSpec = Tokenizers.qualify(storage, tokenizer); // tasks resolve paths elsewhere than the driver
            Tokenizer tok = Tokenizers.load(storage, tokSpec); // fail fast, on the driver, before any task runs
            Result r = run(spark, input, tok, tokSpec, seqLen, out, progress);
            var w = spec.commandLine().getOut();
            w.printf("tokenizer   %s%n", tok.describe());
            w.printf("%-11s %d%n", r.unitName(), r.units());
            w.printf("blocks      %d x %d tokens (%d tokens)%n", r.blocks(), seqLen, (long) r.blocks() * seqLen);
            w.printf("wrote       %s in %.1f s%n", out, progress.seconds());
            w.flush();
            return Main.OK;
        } finally {
            SparkSessions.stop(spark);
        }
    }

    /** What was written: the number of input documents (or sequences) and of blocks. */
    record Result(long units, String unitName, int blocks) {
    }

    static Result run(SparkSession spark, InputOptions input, Tokenizer tok, String tokenizerSpec, int seqLen,
                      String out, Progress progress) throws Exception {
        InputOptions.Blocks b;
        List<int[]> collected;
        try (SparkProgress ignored = SparkProgress.of(spark, progress, "tokenizing " + input.uri())) {
            b = input.blocks(spark, tokenizerSpec, tok.vocabSize(), seqLen, progress);
            collected = b.blocks().collect();
        }
        b.blocks().unpersist(false);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("source", input.uri());
        meta.put("tokenizer", tokenizerSpec);
        meta.put("seqlen", Integer.toString(seqLen));
        meta.put(b.unitName(), Long.toString(b.units()));
        progress.step("writing " + collected.size() + " blocks to " + out);
        TokenFiles.writeBlocks(SparkSessions.storage(spark), out, collected, meta);
        return new Result(b.units(), b.unitName(), collected.size());
    }
}
