package org.sparseft.sparsity;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Keep-masks (1 kept, 0 pruned; float32, the weight's shape) from score matrices: the lowest scores are pruned.
 * Ties go as a stable ascending sort would order them: the lower column index is pruned first, so every run and
 * every partitioning gives the same mask. Rows and groups are ranked in bulk ND4J operations; the whole-matrix
 * selection sorts a primitive copy.
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
        INDArray s = scores.castTo(DataType.FLOAT);
        // the k-th lowest score of each row: everything below it goes, and as many equal to it as are needed
        INDArray kth = Nd4j.sort(s.dup('c'), 1, true).getColumn(k - 1).reshape(rows, 1).repeat(1, cols);
        INDArray below = s.lt(kth).castTo(DataType.FLOAT);
        INDArray tied = s.eq(kth).castTo(DataType.FLOAT);
        // counts are whole numbers: rank <= quota  <=>  quota + 0.5 > rank
        INDArray quota = below.sum(true, 1).rsubi(k).addi(0.5).repeat(1, cols);
        INDArray tiedPruned = quota.gt(tied.cumsum(1)).castTo(DataType.FLOAT).muli(tied);
        return below.addi(tiedPruned).rsubi(1.0);
    }

    /**
     * Prunes the {@code n} lowest scores in every group of {@code m} consecutive columns of every row. Small groups
     * are ranked by pairwise comparison of the group's columns (m² whole-column operations): a per-group sort of
     * millions of 4-element rows took 15 s for one 768 x 3072 linear, this takes a fraction of a second.
     */
    public static INDArray perGroup(INDArray scores, int n, int m) {
        long rows = scores.rows();
        long cols = scores.columns();
        if (cols % m != 0) {
            throw new IllegalArgumentException(cols + " columns do not split into groups of " + m);
        }
        INDArray groups = scores.castTo(DataType.FLOAT).dup('c').reshape('c', rows * (cols / m), m);
        if (m > 16) {
            return perRow(groups, n).reshape('c', rows, cols);
        }
        INDArray[] column = new INDArray[m];
        for (int j = 0; j < m; j++) {
            column[j] = groups.getColumn(j).dup();
        }
        INDArray keep = Nd4j.createUninitialized(DataType.FLOAT, groups.rows(), m);
        for (int j = 0; j < m; j++) {
            // rank of column j in its group = lower scores + equal scores at a lower index (a stable sort's order)
            INDArray rank = Nd4j.zeros(DataType.FLOAT, groups.rows());
            for (int k = 0; k < m; k++) {
                if (k != j) {
                    rank.addi(column[k].lt(column[j]).castTo(DataType.FLOAT));
                    if (k < j) {
                        rank.addi(column[k].eq(column[j]).castTo(DataType.FLOAT));
                    }
                }
            }
            keep.putColumn(j, rank.gte(n).castTo(DataType.FLOAT).reshape(groups.rows(), 1));
        }
        return keep.reshape('c', rows, cols);
    }

    /**
     * Prunes the {@code k} lowest scores of the whole matrix (ties by row-major position). One long row is where
     * ND4J's sort is slow (0.7 s for 2.4M scores), so the threshold comes from a primitive sort of a copy and the
     * mask from one pass: everything below the k-th lowest score, then the first equal ones in row-major order.
     */
    public static INDArray whole(INDArray scores, long k) {
        long rows = scores.rows();
        long cols = scores.columns();
        float[] v = scores.castTo(DataType.FLOAT).dup('c').data().asFloat();
        if (k < 0 || k > v.length) {
            throw new IllegalArgumentException("cannot prune " + k + " of " + v.length);
        }
        float[] keep = new float[v.length];
        if (k == 0) {
            java.util.Arrays.fill(keep, 1f);
            return Nd4j.create(keep, new long[] {rows, cols}, 'c');
        }
        float[] sorted = v.clone();
        java.util.Arrays.sort(sorted);
        float kth = sorted[(int) k - 1];
        long below = 0;
        for (float x : v) {
            below += x < kth ? 1 : 0;
        }
        long tiedToPrune = k - below;
        for (int i = 0; i < v.length; i++) {
            if (v[i] > kth || (v[i] == kth && tiedToPrune-- <= 0)) {
                keep[i] = 1f;
            }
        }
        return Nd4j.create(keep, new long[] {rows, cols}, 'c');
    }
}
