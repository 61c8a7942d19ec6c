package org.sparseft.jobs;

import org.sparseft.jobs.service.Outputs;
import org.sparseft.BadInputException;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.jobs.report.LineChart;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
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
        if (!out.endsWith(".png")) {
            throw new BadInputException("--out " + out + ": expected a file name ending in .png");
        }
        Storage storage = HadoopStorage.withDefaults();
        Outputs.check(storage, "out", out, force);
        List<LineChart.Series> lines = new ArrayList<>();
        for (Map.Entry<String, String> e : series.entrySet()) {
            String text = new String(storage.readAllBytes(e.getValue()), StandardCharsets.UTF_8);
            lines.add(new LineChart.Series(e.getKey(), LineChart.fromMetrics(text, field, e.getValue())));
        }
        List<LineChart.Reference> refs = new ArrayList<>();
        for (Map.Entry<String, String> e : references.entrySet()) {
            try {
                refs.add(new LineChart.Reference(e.getKey(), Double.parseDouble(e.getValue())));
            } catch (NumberFormatException x) {
                throw new BadInputException("--reference " + e.getKey() + "=" + e.getValue() + ": expected a number");
            }
        }
        byte[] png = LineChart.png(title, "step", yLabel, lines, refs, 900, 560);
        storage.writeAtomically(out, png);
        spec.commandLine().getOut().printf("wrote      %s (%d series, %d references)%n", out, lines.size(),
                refs.size());
        spec.commandLine().getOut().flush();
        return Main.OK;
    }
}
