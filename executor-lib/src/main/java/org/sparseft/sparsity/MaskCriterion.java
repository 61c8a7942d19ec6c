package org.sparseft.sparsity;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

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
            if (stats == null) {
                throw new IllegalArgumentException("Wanda needs the linear's input statistics");
            }
            INDArray norm = Transforms.sqrt(stats.meanSquarePerSequence().castTo(DataType.FLOAT), false);
            return Transforms.abs(weight.castTo(DataType.FLOAT), true).mulRowVector(norm.reshape(1, norm.length()));
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
}
