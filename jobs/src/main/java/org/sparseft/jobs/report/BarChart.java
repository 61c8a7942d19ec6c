package org.sparseft.jobs.report;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

import java.io.IOException;
import java.util.List;

/** A PNG chart of grouped bars (one group per category, one bar per series), drawn with XChart off-screen. */
public final class BarChart {
    /** One series: a value per category, in the chart's category order. */
    public record Series(String label, List<Double> values) {
    }

    private BarChart() {
    }

    /** The chart as PNG bytes: one group of bars per category, one bar per series in each, y from 0 to {@code yMax}. */
    public static byte[] png(String title, String xLabel, String yLabel, List<String> categories, List<Series> series,
                             double yMax, int width, int height) throws IOException {
        System.setProperty("java.awt.headless", "true");
        if (series.isEmpty()) {
            throw new IllegalArgumentException("no series to draw");
        }
        CategoryChart chart = new CategoryChartBuilder().width(width).height(height).title(title).xAxisTitle(xLabel)
                .yAxisTitle(yLabel).build();
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideS);
        chart.getStyler().setLegendLayout(org.knowm.xchart.style.Styler.LegendLayout.Horizontal);
        chart.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setYAxisMax(yMax);
        for (Series s : series) {
            if (s.values().size() != categories.size()) {
                throw new IllegalArgumentException("series '" + s.label() + "' has " + s.values().size()
                        + " values for " + categories.size() + " categories");
            }
            chart.addSeries(s.label(), categories, s.values());
        }
        return BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
    }
}
