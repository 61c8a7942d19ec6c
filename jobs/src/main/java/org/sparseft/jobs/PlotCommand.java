package org.sparseft.jobs;

import org.sparseft.BadInputException;
import org.sparseft.io.HadoopStorage;
import org.sparseft.jobs.report.PlotService;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code sparseft plot}: a PNG of a metric against step from training runs' metrics.jsonl, with reference lines. */
@Command(name = "plot", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = "Plot --field against step from one or more runs' metrics.jsonl (e.g. validation perplexity of"
                + " several fine-tuning runs) as a PNG, with constant reference lines (dense, one-shot).")
public final class PlotCommand implements Callable<Integer> {
    @Option(names = "--series", required = true, paramLabel = "LABEL=FILE",
            description = "A run's metrics.jsonl (any Hadoop FS URI) and its legend label; repeatable.")
    Map<String, String> series;

    @Option(names = "--reference", paramLabel = "LABEL=VALUE", description = "A constant line; repeatable.")
    Map<String, String> references = Map.of();

    @Option(names = "--field", defaultValue = "val_ppl", description = "The metrics.jsonl field to plot.")
    String field;

    @Option(names = "--title", defaultValue = "Validation perplexity", description = "Chart title.")
    String title;

    @Option(names = "--y-label", defaultValue = "perplexity", description = "Y axis title.")
    String yLabel;

    @Option(names = "--out", required = true, paramLabel = "FILE.png", description = "Output PNG.")
    String out;

    @Option(names = "--force", description = "Replace an existing --out.")
    boolean force;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Map<String, Double> refs = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : references.entrySet()) {
            try {
                refs.put(e.getKey(), Double.parseDouble(e.getValue()));
            } catch (NumberFormatException x) {
                throw new BadInputException("--reference " + e.getKey() + "=" + e.getValue() + ": expected a number");
            }
        }
        PlotService.PlotResult r = PlotService.run(new PlotService.PlotSpec(series, refs, field, title, yLabel, out,
                force), HadoopStorage.withDefaults());
        spec.commandLine().getOut().printf("wrote      %s (%d series, %d references)%n", r.out(), r.series(),
                r.references());
        spec.commandLine().getOut().flush();
        return Main.OK;
    }
}
