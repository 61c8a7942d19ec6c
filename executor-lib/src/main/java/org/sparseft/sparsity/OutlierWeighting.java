package org.sparseft.sparsity;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.longer.MatchCondition;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.conditions.Conditions;
import org.sparseft.InvalidSettingException;

import java.util.List;
import java.util.Locale;

/**
 * OWL, outlier-weighted layer-wise sparsity (Yin et al., ICML 2024; docs/algorithms.md §3.6): decoder blocks whose
 * Wanda scores hold more outliers (scores above M times their mean) keep more of their weights. The blocks'
 * sparsities spread over 2λ around the target and average exactly to it.
 */
public final class OutlierWeighting {
    private OutlierWeighting() {
    }

    /**
     * @param m a score is an outlier above m times the mean score of its block (the reference's default 5)
     * @param lambda half the spread of the blocks' sparsities (the reference's default 0.08)
     */
    public record Options(double m, double lambda) implements java.io.Serializable {
        public static final Options DEFAULTS = new Options(5, 0.08);

        public Options {
            if (!(m > 0) || Double.isInfinite(m)) {
                throw InvalidSettingException.of("owl-m", m, "expected a positive multiple of the mean score");
            }
            if (!(lambda >= 0) || Double.isInfinite(lambda)) {
                throw InvalidSettingException.of("owl-lambda", lambda, "expected a fraction of at least 0");
            }
        }

        /** Refuses a λ that could push a block's sparsity outside [0, 1) around {@code target}. */
        public void checkFits(double target) {
            // with a margin for the rounding of 1 - target: 1 - 0.7 is 0.30000000000000004
            if (!(lambda < Math.min(target, 1 - target) - 1e-12)) {
                throw InvalidSettingException.of("owl-lambda", lambda, String.format(Locale.ROOT,
                        "expected a value in [0, %s) for {sparsity} %s: min(sparsity, 1 - sparsity)",
                        fraction(Math.min(target, 1 - target)), fraction(target)));
            }
        }
    }

    /**
     * The per-block outcome.
     *
     * @param outlierRatios each block's share of outlier scores, in [0, 1]
     * @param sparsities each block's sparsity
     */
    public record Allocation(Options options, double target, double[] outlierRatios, double[] sparsities) {
    }

    /**
     * The allocation as {@code sparsity.json} records it ({@code "owl"}).
     *
     * @param m a score is an outlier above m times its block's mean score
     * @param lambda half the spread of the blocks' sparsities
     * @param outlierRatio each block's share of outlier scores, in block order
     * @param blockSparsity each block's sparsity, in block order (their mean is the target)
     * @param seconds the dense pass's wall time
     */
    @JsonPropertyOrder({"m", "lambda", "outlier_ratio", "block_sparsity", "seconds"})
    public record Plan(double m, double lambda, @JsonProperty("outlier_ratio") double[] outlierRatio,
                       @JsonProperty("block_sparsity") double[] blockSparsity, double seconds) {
        public static Plan of(Allocation a, double seconds) {
            return new Plan(a.options().m(), a.options().lambda(), a.outlierRatios(), a.sparsities(), seconds);
        }
    }

    /**
     * The share of the entries of {@code scores} (all of one block's prunable linears together) above {@code m} times
     * their mean.
     */
    public static double outlierRatio(List<INDArray> scores, double m) {
        double sum = 0;
        long n = 0;
        for (INDArray s : scores) {
            sum += s.castTo(DataType.DOUBLE).sumNumber().doubleValue();
            n += s.length();
        }
        if (n == 0) {
            return 0;
        }
        double threshold = m * (sum / n);
        long above = 0;
        for (INDArray s : scores) {
            above += Nd4j.getExecutioner().exec(new MatchCondition(s, Conditions.greaterThan(threshold)))
                    .getLong(0);
        }
        return (double) above / n;
    }

    /**
     * Each block's sparsity: the outlier ratios min-max scaled to [0, 2λ] as keep ratios, shifted so that they
     * average 1 − {@code target}. When every block has the same ratio, every block gets {@code target}.
     *
     * @throws InvalidSettingException naming {@code owl-lambda} when a block's sparsity would leave [0, 1)
     */
    public static Allocation allocate(double[] outlierRatios, double target, Options o) {
        o.checkFits(target);
        int n = outlierRatios.length;
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double d : outlierRatios) {
            min = Math.min(min, d);
            max = Math.max(max, d);
        }
        double[] sparsity = new double[n];
        if (n == 0 || max == min) {
            java.util.Arrays.fill(sparsity, target);
            return new Allocation(o, target, outlierRatios.clone(), sparsity);
        }
        double[] keep = new double[n];
        double mean = 0;
        for (int l = 0; l < n; l++) {
            keep[l] = (outlierRatios[l] - min) / (max - min) * 2 * o.lambda();
            mean += keep[l];
        }
        mean /= n;
        for (int l = 0; l < n; l++) {
            sparsity[l] = 1 - (keep[l] - mean + (1 - target));
            if (!(sparsity[l] >= 0 && sparsity[l] < 1)) {
                throw InvalidSettingException.of("owl-lambda", o.lambda(), String.format(Locale.ROOT,
                        "block %d would get sparsity %s; lower it", l, fraction(sparsity[l])));
            }
        }
        return new Allocation(o, target, outlierRatios.clone(), sparsity);
    }

    private static String fraction(double v) {
        return String.format(Locale.ROOT, "%.4g", v);
    }
}
