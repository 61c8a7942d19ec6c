package org.sparseft.sparsity;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.sparseft.numerics.HeapCopy;

/**
 * How a one-shot method scores a linear's weights (lower = pruned first) and over which group it compares them
 * (docs/algorithms.md §3.1-§3.4): magnitude |W| over the whole matrix, Wanda |W|·√(Q_j/N_seq) within each output row.
 * N:M patterns always compare within each row's groups of M.
 */
public enum MaskCriterion {
    MAGNITUDE {
        @Override
        public INDArray scores(INDArray weight, FeatureStats stats) {
            return Transforms.abs(weight.castTo(DataType.FLOAT), true);
        }

        @Override
        boolean wholeMatrix() {
            return true;
        }
    },
    WANDA {
        @Override
        public INDArray scores(INDArray weight, FeatureStats stats) {
            float[] scale = columnScale(stats);
            INDArray norm = org.nd4j.linalg.factory.Nd4j.create(scale, new long[] {1, scale.length}, 'c');
            return Transforms.abs(weight.castTo(DataType.FLOAT), true).mulRowVector(norm);
        }

        @Override
        boolean wholeMatrix() {
            return false;
        }
    };

    /** The scores of every weight of [out, in] {@code weight}; {@code stats} may be null for magnitude. */
    public abstract INDArray scores(INDArray weight, FeatureStats stats);

    abstract boolean wholeMatrix();

    /** The keep-mask this criterion chooses for {@code scores} under {@code pattern}. */
    public INDArray select(INDArray scores, SparsityPattern pattern) {
        return pattern.select(scores, wholeMatrix());
    }

    /**
     * {@code select(scores(weight, stats), pattern)}, the same mask, with the scores computed a row at a time inside
     * the selection where it compares within rows: no score matrix beside the weight, one pass fewer over memory.
     */
    public INDArray choose(INDArray weight, FeatureStats stats, SparsityPattern pattern) {
        if (wholeMatrix() && pattern instanceof SparsityPattern.Unstructured) {
            return select(scores(weight, stats), pattern);
        }
        float[] w = HeapCopy.floats(weight);
        float[] scale = this == MAGNITUDE ? null : columnScale(stats);
        int rows = Math.toIntExact(weight.rows());
        int cols = Math.toIntExact(weight.columns());
        return pattern.selectByRow(MaskSelection.RowScores.scaledMagnitude(w, scale, cols), rows, cols);
    }

    /** Wanda's per-input factor √(Q_j/N_seq), float32. */
    private static float[] columnScale(FeatureStats stats) {
        if (stats == null) {
            throw new IllegalArgumentException("Wanda needs the linear's input statistics");
        }
        return Transforms.sqrt(stats.meanSquarePerSequence().castTo(DataType.FLOAT), false).data().asFloat();
    }
}
