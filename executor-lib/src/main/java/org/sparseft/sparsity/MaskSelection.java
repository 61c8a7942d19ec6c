package org.sparseft.sparsity;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.stream.IntStream;

/**
 * Keep-masks (1 kept, 0 pruned; float32, the weight's shape) from score matrices: the lowest scores are pruned.
 * Ties go as a stable ascending sort would order them: the lower column index is pruned first, so every run and
 * every partitioning gives the same mask. Each row (or group) is an independent partial selection on a primitive copy,
 * rows in parallel: no full sort, and no per-element access through ND4J.
 */
public final class MaskSelection {
    private MaskSelection() {
    }

    /** Prunes the {@code k} lowest scores of every row of [rows, cols]. */
    public static INDArray perRow(INDArray scores, int k) {
        long rows = scores.rows();
        long cols = scores.columns();
        if (k < 0 || k > cols) {
            throw new IllegalArgumentException("cannot prune " + k + " of " + cols + " per row");
        }
        if (k == 0) {
            return Nd4j.ones(DataType.FLOAT, rows, cols);
        }
        float[] s = values(scores);
        float[] keep = new float[s.length];
        int c = Math.toIntExact(cols);
        IntStream.range(0, Math.toIntExact(rows)).parallel().forEach(r -> pruneLowest(s, keep, r * c, c, k));
        return Nd4j.create(keep, new long[] {rows, cols}, 'c');
    }

    /**
     * Prunes the {@code n} lowest scores in every group of {@code m} consecutive columns of every row: each group
     * ranked by comparing its m scores pairwise (a stable sort's order), rows in parallel.
     */
    public static INDArray perGroup(INDArray scores, int n, int m) {
        long rows = scores.rows();
        long cols = scores.columns();
        if (cols % m != 0) {
            throw new IllegalArgumentException(cols + " columns do not split into groups of " + m);
        }
        if (n < 0 || n > m) {
            throw new IllegalArgumentException("cannot prune " + n + " of " + m);
        }
        float[] s = values(scores);
        float[] keep = new float[s.length];
        int c = Math.toIntExact(cols);
        IntStream.range(0, Math.toIntExact(rows)).parallel().forEach(r -> {
            for (int g = r * c; g < (r + 1) * c; g += m) {
                if (m > 16) {
                    pruneLowest(s, keep, g, m, n);
                    continue;
                }
                for (int j = 0; j < m; j++) {
                    float v = s[g + j];
                    int rank = 0; // lower scores, and equal scores at a lower index
                    for (int i = 0; i < m; i++) {
                        float u = s[g + i];
                        rank += u < v || (u == v && i < j) ? 1 : 0;
                    }
                    keep[g + j] = rank >= n ? 1f : 0f;
                }
            }
        });
        return Nd4j.create(keep, new long[] {rows, cols}, 'c');
    }

    /**
     * Prunes the {@code k} lowest scores of the whole matrix (ties by row-major position): the k-th lowest score by
     * partial selection, then one pass, everything below it and the first equal ones in row-major order.
     */
    public static INDArray whole(INDArray scores, long k) {
        long rows = scores.rows();
        long cols = scores.columns();
        float[] v = values(scores);
        if (k < 0 || k > v.length) {
            throw new IllegalArgumentException("cannot prune " + k + " of " + v.length);
        }
        float[] keep = new float[v.length];
        pruneLowest(v, keep, 0, v.length, Math.toIntExact(k));
        return Nd4j.create(keep, new long[] {rows, cols}, 'c');
    }

    private static float[] values(INDArray scores) {
        return scores.castTo(DataType.FLOAT).dup('c').data().asFloat();
    }

    /**
     * Marks kept (1) all but the {@code k} lowest of {@code s[from, from + length)} in {@code keep}: below the k-th
     * lowest value everything goes, and of the values equal to it the first ones, as many as are needed.
     */
    static void pruneLowest(float[] s, float[] keep, int from, int length, int k) {
        if (k == 0) {
            java.util.Arrays.fill(keep, from, from + length, 1f);
            return;
        }
        float kth = kthLowest(java.util.Arrays.copyOfRange(s, from, from + length), k - 1);
        int below = 0;
        for (int i = from; i < from + length; i++) {
            below += s[i] < kth ? 1 : 0;
        }
        int tiedToPrune = k - below;
        for (int i = from; i < from + length; i++) {
            float x = s[i];
            keep[i] = x > kth || (x == kth && tiedToPrune-- <= 0) ? 1f : 0f;
        }
    }

    /**
     * The value of rank {@code index} (0 = lowest) of {@code a}, which is reordered: quickselect with a median of
     * three pivot, handing a range that shrinks too slowly to a sort (so the worst case stays n log n).
     */
    static float kthLowest(float[] a, int index) {
        int lo = 0;
        int hi = a.length - 1;
        int budget = 2 * (32 - Integer.numberOfLeadingZeros(a.length)) + 4;
        while (lo < hi) {
            if (budget-- == 0) {
                java.util.Arrays.sort(a, lo, hi + 1);
                return a[index];
            }
            int mid = (lo + hi) >>> 1;
            float pivot = median(a[lo], a[mid], a[hi]);
            int i = lo;
            int j = hi;
            while (i <= j) { // Hoare partition: [lo, j] <= pivot <= [i, hi]
                while (a[i] < pivot) {
                    i++;
                }
                while (a[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    float t = a[i];
                    a[i] = a[j];
                    a[j] = t;
                    i++;
                    j--;
                }
            }
            if (index <= j) {
                hi = j;
            } else if (index >= i) {
                lo = i;
            } else {
                return a[index]; // between the two parts: equal to the pivot
            }
        }
        return a[index];
    }

    private static float median(float a, float b, float c) {
        return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    }
}
