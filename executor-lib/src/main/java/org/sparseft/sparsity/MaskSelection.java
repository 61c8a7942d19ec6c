package org.sparseft.sparsity;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.numerics.HeapCopy;

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

    /**
     * A score matrix produced a row at a time, so a selection never holds a second full-size matrix: row {@code r}'s
     * scores are written into {@code out[0, cols)}.
     */
    @FunctionalInterface
    public interface RowScores {
        void row(int r, float[] out);

        /** The rows of a score matrix already in memory. */
        static RowScores of(INDArray scores) {
            float[] s = values(scores);
            int c = Math.toIntExact(scores.columns());
            return (r, out) -> System.arraycopy(s, r * c, out, 0, c);
        }

        /**
         * |w|·scale[j] for [rows, cols] weights {@code w} (c order) and one scale per column (null: |w|), computed in
         * float32 exactly as ND4J's element-wise abs and row-vector product compute them.
         */
        static RowScores scaledMagnitude(float[] w, float[] scale, int cols) {
            return (r, out) -> {
                int from = r * cols;
                if (scale == null) {
                    for (int j = 0; j < cols; j++) {
                        out[j] = Math.abs(w[from + j]);
                    }
                } else {
                    for (int j = 0; j < cols; j++) {
                        out[j] = Math.abs(w[from + j]) * scale[j];
                    }
                }
            };
        }
    }

    /** Prunes the {@code k} lowest scores of every row of [rows, cols]. */
    public static INDArray perRow(INDArray scores, int k) {
        return perRow(RowScores.of(scores), Math.toIntExact(scores.rows()), Math.toIntExact(scores.columns()), k);
    }

    /** Prunes the {@code k} lowest scores of every row of [rows, cols], scores a row at a time. */
    public static INDArray perRow(RowScores scores, int rows, int cols, int k) {
        if (k < 0 || k > cols) {
            throw new IllegalArgumentException("cannot prune " + k + " of " + cols + " per row");
        }
        if (k == 0) {
            return Nd4j.ones(DataType.FLOAT, rows, cols);
        }
        float[] keep = new float[Math.multiplyExact(rows, cols)];
        ThreadLocal<float[][]> buffers = ThreadLocal.withInitial(() -> new float[][] {new float[cols], new float[cols]});
        IntStream.range(0, rows).parallel().forEach(r -> {
            float[][] b = buffers.get();
            scores.row(r, b[0]);
            pruneLowest(b[0], b[1], keep, r * cols, cols, k);
        });
        return Nd4j.create(keep, new long[] {rows, cols}, 'c');
    }

    /**
     * Prunes the {@code n} lowest scores in every group of {@code m} consecutive columns of every row: each group
     * ranked by comparing its m scores pairwise (a stable sort's order), rows in parallel.
     */
    public static INDArray perGroup(INDArray scores, int n, int m) {
        return perGroup(RowScores.of(scores), Math.toIntExact(scores.rows()), Math.toIntExact(scores.columns()), n,
                m);
    }

    /** As {@link #perGroup(INDArray, int, int)}, scores a row at a time. */
    public static INDArray perGroup(RowScores scores, int rows, int cols, int n, int m) {
        if (cols % m != 0) {
            throw new IllegalArgumentException(cols + " columns do not split into groups of " + m);
        }
        if (n < 0 || n > m) {
            throw new IllegalArgumentException("cannot prune " + n + " of " + m);
        }
        float[] keep = new float[Math.multiplyExact(rows, cols)];
        ThreadLocal<float[][]> buffers = ThreadLocal.withInitial(() -> new float[][] {new float[cols], new float[m]});
        IntStream.range(0, rows).parallel().forEach(r -> {
            float[][] b = buffers.get();
            float[] s = b[0];
            scores.row(r, s);
            for (int g = 0; g < cols; g += m) {
                int at = r * cols + g;
                if (m > 16) {
                    pruneLowest(java.util.Arrays.copyOfRange(s, g, g + m), b[1], keep, at, m, n);
                    continue;
                }
                for (int j = 0; j < m; j++) {
                    float v = s[g + j];
                    int rank = 0; // lower scores, and equal scores at a lower index
                    for (int i = 0; i < m; i++) {
                        float u = s[g + i];
                        rank += u < v || (u == v && i < j) ? 1 : 0;
                    }
                    keep[at + j] = rank >= n ? 1f : 0f;
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
        pruneLowest(v, new float[v.length], keep, 0, v.length, Math.toIntExact(k));
        return Nd4j.create(keep, new long[] {rows, cols}, 'c');
    }

    private static float[] values(INDArray scores) {
        return HeapCopy.floats(scores);
    }

    /**
     * Marks kept (1) all but the {@code k} lowest of the scores {@code s[0, length)} in {@code keep[from, from +
     * length)}: below the k-th lowest value everything goes, and of the values equal to it the first ones, as many as
     * are needed. {@code scratch} (at least {@code length} long) is overwritten.
     */
    static void pruneLowest(float[] s, float[] scratch, float[] keep, int from, int length, int k) {
        if (k == 0) {
            java.util.Arrays.fill(keep, from, from + length, 1f);
            return;
        }
        System.arraycopy(s, 0, scratch, 0, length);
        float kth = kthLowest(scratch, length, k - 1);
        // one pass: below the k-th pruned, above kept, ties kept for now and pruned first-come afterwards
        int below = 0;
        int ties = 0;
        int firstTie = -1;
        for (int i = 0; i < length; i++) {
            float x = s[i];
            below += x < kth ? 1 : 0;
            if (x == kth) {
                ties++;
                firstTie = firstTie < 0 ? i : firstTie;
            }
            keep[from + i] = x >= kth ? 1f : 0f; // NaN pruned, as before
        }
        int tiedToPrune = k - below;
        for (int i = firstTie; tiedToPrune > 0 && i < length; i++) {
            if (s[i] == kth) {
                keep[from + i] = 0f;
                tiedToPrune--;
            }
        }
    }

    /**
     * The value of rank {@code index} (0 = lowest) of {@code a}, which is reordered: quickselect with a median of
     * three pivot, handing a range that shrinks too slowly to a sort (so the worst case stays n log n).
     */
    static float kthLowest(float[] a, int index) {
        return kthLowest(a, a.length, index);
    }

    /** As {@link #kthLowest(float[], int)} over {@code a[0, length)}. */
    static float kthLowest(float[] a, int length, int index) {
        int lo = 0;
        int hi = length - 1;
        int budget = 2 * (32 - Integer.numberOfLeadingZeros(length)) + 4;
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

    /** As {@link #kthLowest(float[], int)} for doubles (SparseGPT's float64 scores). */
    static double kthLowest(double[] a, int index) {
        int lo = 0;
        int hi = a.length - 1;
        int budget = 2 * (32 - Integer.numberOfLeadingZeros(a.length)) + 4;
        while (lo < hi) {
            if (budget-- == 0) {
                java.util.Arrays.sort(a, lo, hi + 1);
                return a[index];
            }
            int mid = (lo + hi) >>> 1;
            double pivot = Math.max(Math.min(a[lo], a[mid]), Math.min(Math.max(a[lo], a[mid]), a[hi]));
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (a[i] < pivot) {
                    i++;
                }
                while (a[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    double t = a[i];
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
                return a[index];
            }
        }
        return a[index];
    }

    private static float median(float a, float b, float c) {
        return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    }
}
