package org.sparseft.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.sparseft.numerics.Fused;

/** Mean next-token cross-entropy over the rows whose target is not {@link #IGNORE}, with its gradient. */
public final class CrossEntropy {
    public static final int IGNORE = -1;

    private CrossEntropy() {
    }

    /**
     * @param loss the mean negative log-likelihood (sum / counted rows)
     * @param perRow each row's negative log-likelihood (0 for ignored rows)
     * @param dLogits (softmax − one-hot) / counted rows, or null when not asked for
     */
    public record Result(double loss, double[] perRow, long counted, INDArray dLogits) {
    }

    public static Result compute(INDArray logits, int[] targets, boolean withGradient) {
        int n = (int) logits.rows();
        if (targets.length != n) {
            throw new IllegalArgumentException(targets.length + " targets for " + n + " rows");
        }
        if (Fused.accepts(logits)) {
            return fused(logits, targets, withGradient);
        }
        INDArray z = logits.subColumnVector(logits.max(true, 1));
        INDArray lse = Transforms.log(Transforms.exp(z, true).sum(true, 1), false);
        INDArray logp = z.subiColumnVector(lse);
        double[] perRow = new double[n];
        double total = 0;
        long counted = 0;
        for (int i = 0; i < n; i++) { // per row, not per element: one lookup each
            if (targets[i] != IGNORE) {
                perRow[i] = -logp.getDouble(i, targets[i]);
                total += perRow[i];
                counted++;
            }
        }
        if (counted == 0) {
            throw new IllegalArgumentException("no row has a target");
        }
        INDArray grad = null;
        if (withGradient) {
            grad = Transforms.exp(logp, false); // softmax
            for (int i = 0; i < n; i++) {
                if (targets[i] == IGNORE) {
                    grad.getRow(i).assign(0);
                } else {
                    grad.putScalar(i, targets[i], grad.getDouble(i, targets[i]) - 1.0);
                }
            }
            grad.divi(counted);
        }
        return new Result(total / counted, perRow, counted, grad);
    }

    private static Result fused(INDArray logits, int[] targets, boolean withGradient) {
        long counted = 0;
        for (int t : targets) {
            if (t < IGNORE || t >= logits.columns()) {
                throw new IllegalArgumentException("target " + t + " outside the vocabulary of " + logits.columns());
            }
            if (t != IGNORE) {
                counted++;
            }
        }
        if (counted == 0) {
            throw new IllegalArgumentException("no row has a target");
        }
        double[] perRow = new double[targets.length];
        INDArray grad = Fused.crossEntropy(logits, targets, perRow, withGradient ? 1.0 / counted : 0);
        double total = 0;
        for (double nll : perRow) {
            total += nll;
        }
        return new Result(total / counted, perRow, counted, grad);
    }
}
