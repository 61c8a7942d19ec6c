package org.sparseft.jobs.report;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.sparseft.driver.train.MetricsLines;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A PNG line chart of figures against training step: measured series (points joined by lines) and constant
 * references (dashed), drawn with XChart off-screen.
 */
public final class LineChart {
    /** Points of one measured quantity. */
    public record Series(String label, List<double[]> points) {
    }

    /** A constant, drawn across the measured steps. */
    public record Reference(String label, double value) {
    }

    /** Room an entry of a horizontal legend takes beside its label's text: the line sample and the padding. */
    private static final int LEGEND_ENTRY_EXTRA = 60;

    private LineChart() {
    }

    /** The chart as PNG bytes. */
    public static byte[] png(String title, String xLabel, String yLabel, List<Series> series,
                             List<Reference> references, int width, int height) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<String> labels = new ArrayList<>();
        series.forEach(s -> labels.add(s.label()));
        references.forEach(r -> labels.add(r.label()));
        // below the plot: a legend inside would hide the last points, where the results are. XChart does not wrap
        // a horizontal legend, so one too wide for the image is stacked, one entry per line, and the image grows.
        java.awt.Font font = new org.knowm.xchart.style.XYStyler().getLegendFont();
        java.awt.FontMetrics metrics = new java.awt.image.BufferedImage(1, 1, java.awt.image.BufferedImage.TYPE_INT_RGB)
                .getGraphics().getFontMetrics(font);
        int legendWidth = labels.stream().mapToInt(l -> metrics.stringWidth(l) + LEGEND_ENTRY_EXTRA).sum();
        boolean stacked = legendWidth > width - 40;
        XYChart chart = new XYChartBuilder().width(width)
                .height(stacked ? height + labels.size() * (metrics.getHeight() + 4) : height).title(title)
                .xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideS);
        chart.getStyler().setLegendLayout(stacked ? org.knowm.xchart.style.Styler.LegendLayout.Vertical
                : org.knowm.xchart.style.Styler.LegendLayout.Horizontal);
        chart.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
        double minX = Double.MAX_VALUE;
        double maxX = -Double.MAX_VALUE;
        for (Series s : series) {
            if (s.points().isEmpty()) {
                throw new IllegalArgumentException("series '" + s.label() + "' has no points");
            }
            double[] x = new double[s.points().size()];
            double[] y = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                x[i] = s.points().get(i)[0];
                y[i] = s.points().get(i)[1];
                minX = Math.min(minX, x[i]);
                maxX = Math.max(maxX, x[i]);
            }
            chart.addSeries(s.label(), x, y).setMarker(SeriesMarkers.CIRCLE);
        }
        if (series.isEmpty()) {
            minX = 0;
            maxX = 1;
        }
        for (Reference r : references) {
            XYSeries line = chart.addSeries(r.label(), new double[] {minX, maxX}, new double[] {r.value(), r.value()});
            line.setMarker(SeriesMarkers.NONE);
            line.setLineStyle(new java.awt.BasicStroke(1.5f, java.awt.BasicStroke.CAP_BUTT,
                    java.awt.BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
        }
        return BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
    }

    /** The points of {@code field} against {@code step} in a metrics.jsonl text, lines without it skipped. */
    public static List<double[]> fromMetrics(String jsonl, String field, String source) {
        List<double[]> points = new ArrayList<>();
        for (com.fasterxml.jackson.databind.JsonNode n : MetricsLines.parse(jsonl, source)) {
            if (n.hasNonNull(field) && n.hasNonNull("step")) {
                points.add(new double[] {n.get("step").asDouble(), n.get(field).asDouble()});
            }
        }
        if (points.isEmpty()) {
            throw org.sparseft.BadInputException.at(source, "has no line with field '" + field + "'");
        }
        return points;
    }
}
