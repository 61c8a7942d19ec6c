package org.sparseft.jobs.report;

import org.sparseft.InvalidSettingException;
import org.sparseft.io.Storage;
import org.sparseft.jobs.service.Outputs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Draws one metric of training runs' {@code metrics.jsonl} against step as a PNG, on this machine (no Spark). */
public final class PlotService {
    private PlotService() {
    }

    /**
     * What to draw.
     *
     * @param series each run's metrics.jsonl (any Hadoop FS) by its legend label
     * @param references constant lines by label
     * @param field the metrics.jsonl field to plot
     * @param title the chart's title
     * @param yLabel the y axis title
     * @param out the PNG file
     * @param force whether an existing {@code out} is replaced
     */
    public record PlotSpec(Map<String, String> series, Map<String, Double> references, String field, String title,
                           String yLabel, String out, boolean force) {
        /** Checks the output name; copies the maps, keeping their order. */
        public PlotSpec {
            if (!out.endsWith(".png")) {
                throw InvalidSettingException.of("out", out, "expected a file name ending in .png");
            }
            series = new LinkedHashMap<>(series);
            references = new LinkedHashMap<>(references);
        }
    }

    /**
     * What was drawn.
     *
     * @param out the PNG written
     * @param series lines drawn from metrics
     * @param references constant lines drawn
     */
    public record PlotResult(String out, int series, int references) {
    }

    /** Draws {@code spec} and writes the PNG. */
    public static PlotResult run(PlotSpec spec, Storage storage) throws IOException {
        Outputs.check(storage, "out", spec.out(), spec.force());
        List<LineChart.Series> lines = new ArrayList<>();
        for (Map.Entry<String, String> e : spec.series().entrySet()) {
            String text = new String(storage.readAllBytes(e.getValue()), StandardCharsets.UTF_8);
            lines.add(new LineChart.Series(e.getKey(), LineChart.fromMetrics(text, spec.field(), e.getValue())));
        }
        List<LineChart.Reference> refs = new ArrayList<>();
        spec.references().forEach((label, value) -> refs.add(new LineChart.Reference(label, value)));
        storage.writeAtomically(spec.out(), LineChart.png(spec.title(), "step", spec.yLabel(), lines, refs, 900, 560));
        return new PlotResult(spec.out(), lines.size(), refs.size());
    }
}
