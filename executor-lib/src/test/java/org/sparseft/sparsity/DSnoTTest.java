package org.sparseft.sparsity;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** DSnoT's choices against hand traces and against a plain transcription of the reference code's N:M loop. */
class DSnoTTest {
    private static INDArray m(float[][] v) {
        return Nd4j.createFromArray(v);
    }

    private static float[][] rows(INDArray a) {
        return a.castTo(DataType.FLOAT).toFloatMatrix();
    }

    /** One sequence of one token per feature with the given sums: d = W·S, Wanda norm √Q, variance 0 → floored. */
    private static FeatureStats stats(double[] sum, double[] sumSquares) {
        return new FeatureStats(1, 4, sum, sumSquares, new double[sum.length]);
    }

    private static double[] ones(int n) {
        double[] v = new double[n];
        Arrays.fill(v, 1);
        return v;
    }

    @Test
    void nOutOfMNeverPrunesAWeightItGrewBack() {
        // unit statistics, so d = W; group A (columns 0-3) starts with 0 and 1 kept, group B (4-7) with 4 and 5
        INDArray w = m(new float[][] {{0.2f, 0.3f, 1.0f, 0.8f, 0.5f, -0.5f, -0.05f, -0.05f}});
        INDArray keep0 = m(new float[][] {{1, 1, 0, 0, 1, 1, 0, 0}});
        INDArray metric = m(new float[][] {{1, 2, 0, 0.1f, 5, 5, 0, 0}});
        FeatureStats unit = stats(ones(8), ones(8));
        // ε = 1.0 + 0.8 - 0.05 - 0.05 = 1.7.
        // cycle 1: grow column 2 (d 1.0); prune the kept weight of its group with the lowest score, column 0:
        //          ε = 1.7 + 0.2 - 1.0 = 0.9, same sign, so the swap is made.
        // cycle 2: grow column 3 (d 0.8). Column 2 was pruned at the start, so its score is +∞ and column 1 (score 2)
        //          goes: ε = 0.9 + 0.3 - 0.8 = 0.4. (Pruning column 2 again, by its score 0, was the old mistake.)
        // cycle 3: no pruned weight with positive d is left, so the row stops.
        DSnoT.Result r = DSnoT.refine(w, unit, keep0, metric, new SparsityPattern.NOutOfM(2, 4), DSnoT.Options.DEFAULT);
        assertArrayEquals(new float[][] {{0, 0, 1, 1, 1, 1, 0, 0}}, rows(r.keep()));
        assertEquals(2, r.swaps());
    }

    @Test
    void nOutOfMMatchesTheReferenceLoopOnRandomRows() {
        Random random = new Random(7);
        int rows = 96;
        int cols = 256;
        float[][] wv = new float[rows][cols];
        for (float[] row : wv) {
            for (int j = 0; j < cols; j++) {
                row[j] = (float) random.nextGaussian();
            }
        }
        double[] sum = new double[cols];
        double[] sumSquares = new double[cols];
        double[] within = new double[cols];
        for (int j = 0; j < cols; j++) {
            sum[j] = random.nextGaussian() * 4;
            sumSquares[j] = 1 + random.nextDouble() * 9;
            within[j] = 0.5 + random.nextDouble() * 8;
        }
        FeatureStats st = new FeatureStats(2, 16, sum, sumSquares, within);
        INDArray w = Nd4j.createFromArray(wv);
        for (int[] nm : new int[][] {{2, 4}, {4, 8}}) {
            SparsityPattern p = new SparsityPattern.NOutOfM(nm[0], nm[1]);
            for (MaskCriterion criterion : MaskCriterion.values()) {
                INDArray metric = criterion.scores(w, st);
                INDArray keep0 = DSnoT.initialKeep(metric, p);
                for (int cycles : new int[] {3, 50}) {
                    DSnoT.Options o = new DSnoT.Options(cycles, 0.1, 1.0, null);
                    float[][] got = rows(DSnoT.refine(w, st, keep0, metric, p, o).keep());
                    float[][] want = referenceNm(w, st, rows(keep0), rows(metric), nm[1], o);
                    for (int i = 0; i < rows; i++) {
                        assertArrayEquals(want[i], got[i],
                                "row " + i + ", " + nm[0] + ":" + nm[1] + ", " + criterion + ", " + cycles + " cycles");
                    }
                }
            }
        }
    }

    /**
     * The reference code's N:M loop (zyxxmu/DSnoT, lib/prune.py), row by row in plain Java: one regrowth list sorted
     * over all columns with a cursor at each end, the group's lowest score pruned with initially pruned weights at
     * +∞, the chosen weight's score set to +∞ whether or not the swap is made, and the sign check.
     */
    private static float[][] referenceNm(INDArray weight, FeatureStats st, float[][] keep0, float[][] metric0, int m,
                                         DSnoT.Options o) {
        float[][] d = rows(weight.mulRowVector(st.sumPerSequence().castTo(DataType.FLOAT).reshape(1, st.features())));
        float[] var = Transforms.max(st.variance().castTo(DataType.FLOAT), Float.MIN_NORMAL).toFloatVector();
        float[][] out = new float[keep0.length][];
        for (int i = 0; i < keep0.length; i++) {
            int cols = keep0[i].length;
            float[] keep = keep0[i].clone();
            float[] metric = metric0[i].clone();
            float[] regrow = new float[cols];
            double eps = 0;
            for (int j = 0; j < cols; j++) {
                if (keep[j] == 0f) {
                    metric[j] = Float.POSITIVE_INFINITY;
                    eps += d[i][j];
                    regrow[j] = (float) (d[i][j] / Math.pow(var[j], o.powOfVarRegrowing()));
                }
            }
            Integer[] order = IntStream.range(0, cols).boxed().toArray(Integer[]::new);
            float[] g = regrow;
            Arrays.sort(order, Comparator.comparingDouble(j -> g[j])); // stable, ascending
            int low = 0;
            int high = cols - 1;
            double sign0 = Math.signum(eps);
            for (int cycle = 0; cycle < o.maxCycles(); cycle++) {
                int r = eps > 0 ? order[high--] : order[low++];
                if (keep[r] != 0f || regrow[r] == 0f) {
                    break; // past the end of its side of the list: sparseft stops the row here
                }
                int start = r - r % m;
                int q = start;
                for (int j = start; j < start + m; j++) {
                    if (metric[j] < metric[q]) {
                        q = j;
                    }
                }
                double after = eps + d[i][q] - d[i][r];
                metric[q] = Float.POSITIVE_INFINITY;
                if (!(Math.abs(eps) > o.updateThreshold() && Math.signum(after) == sign0)) {
                    break;
                }
                keep[q] = 0f;
                keep[r] = 1f;
                eps = after;
            }
            out[i] = keep;
        }
        return out;
    }

    @Test
    void magnitudeStartIsChosenPerRowAndPruneCandidatesRankByWanda() {
        // row 1's weights are all larger than row 0's: over the whole matrix magnitude would prune row 0 entirely
        INDArray w = m(new float[][] {{-0.1f, -0.2f, 0.3f, 0.4f}, {-1, -2, 3, 4}});
        INDArray keep = DSnoT.initialKeep(MaskCriterion.MAGNITUDE.scores(w, null), new SparsityPattern.Unstructured(0.5));
        assertArrayEquals(new float[][] {{0, 0, 1, 1}, {0, 0, 1, 1}}, rows(keep));

        // d = 0.1·W, so ε = 0.1·(-1 + 0.1 + 0.2) = -0.07 < 0 for the magnitude start (columns 1, 2, 3 kept): grow
        // the most negative pruned weight (column 0), prune the kept weight with d >= 0 and the lowest Wanda score.
        // Column 2's input is small (Q = 0.01): Wanda scores it 3·0.1 = 0.3 against column 3's 2.5, so column 2 goes,
        // although by magnitude (the initial criterion) column 3 would. Unstructured rows may flip ε's sign by default.
        INDArray v = m(new float[][] {{-1, -2, 3, 2.5f, 0.1f, 0.2f}});
        SparsityPattern half = new SparsityPattern.Unstructured(0.5);
        INDArray magnitude = MaskCriterion.MAGNITUDE.scores(v, null);
        INDArray start = DSnoT.initialKeep(magnitude, half);
        assertArrayEquals(new float[][] {{0, 1, 1, 1, 0, 0}}, rows(start));
        FeatureStats st = stats(new double[] {0.1, 0.1, 0.1, 0.1, 0.1, 0.1}, new double[] {1, 1, 0.01, 1, 1, 1});
        DSnoT.Result byWanda = DSnoT.refine(v, st, start, magnitude, half, new DSnoT.Options(1, 0.01, 1, null));
        assertArrayEquals(new float[][] {{1, 1, 0, 1, 0, 0}}, rows(byWanda.keep()));
    }
}
