package org.sparseft.jobs;

import org.sparseft.jobs.service.Progress;
import org.sparseft.jobs.tokenize.TokenizeResult;
import org.sparseft.jobs.tokenize.TokenizeService;
import org.sparseft.jobs.tokenize.TokenizeSpec;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** {@code sparseft tokenize}: text to fixed-length token blocks, in parallel on Spark. */
@Command(name = "tokenize", mixinStandardHelpOptions = true, showDefaultValues = true,
        defaultValueProvider = TokenizeCommand.Defaults.class,
        description = {"Tokenize text on Spark and cut it into blocks of --seqlen tokens (documents joined with the "
                + "end-of-text token, the tail dropped). Writes a safetensors file with an I32 tensor input_ids "
                + "[N, seqlen], which every job accepts as --tokens. With --tokens, re-cuts a token file."})
public final class TokenizeCommand implements Callable<Integer> {
    @CommandLine.Mixin
    DataInputOptions input;

    @Option(names = "--tokenizer", paramLabel = "byte|DIR",
            description = "'byte', or a directory with tokenizer.json or vocab.json + merges.txt (a model directory).")
    String tokenizer;

    @Option(names = "--seqlen", paramLabel = "T", description = "Tokens per block.")
    int seqLen;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Output .safetensors file (any Hadoop FS URI).")
    String out;

    @Option(names = "--force", description = "Replace an existing output file.")
    boolean force;

    @CommandLine.Mixin
    SparkOptions sparkOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The defaults shown in the help, read from {@link TokenizeSpec.Builder}. */
    static final class Defaults extends CommandSettings.Defaults {
        Defaults() {
            super(TokenizeSpec::builder);
        }
    }

    @Override
    public Integer call() throws Exception {
        return CommandSettings.runOnSpark(spec, sparkOptions, TokenizeSpec.class, TokenizeService::run,
                TokenizeCommand::print);
    }

    private static void print(TokenizeResult r, PrintWriter w, Progress progress) {
        w.printf("tokenizer   %s%n", r.tokenizerDescription());
        w.printf("%-11s %d%n", r.unitName(), r.units());
        w.printf("blocks      %d x %d tokens (%d tokens)%n", r.blocks(), r.seqlen(), r.tokens());
        w.printf("wrote       %s in %.1f s%n", r.out(), progress.seconds()); // since the start, Spark's included
    }
}
