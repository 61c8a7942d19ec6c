package org.sparseft.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** y = x·Wᵀ + b with W [out, in]: one GEMM, the transpose taken by GEMM's flag rather than a copy. */
public final class Linear {
    private Linear() {
    }

    /** @param bias [out] or null */
    public static INDArray forward(INDArray x, INDArray w, INDArray bias) {
        INDArray y = Nd4j.createUninitialized(x.dataType(), x.rows(), w.rows()); // GEMM with β = 0 writes all
        Nd4j.gemm(x, w, y, false, true, 1.0, 0.0);
        if (bias != null) {
            y.addiRowVector(bias);
        }
        return y;
    }

    /**
     * Accumulates dW += dyᵀ·x and db += Σ dy (gradient accumulation needs no extra buffer) and returns dx = dy·W.
     *
     * @param dW null when the weight's gradient is not wanted (a frozen weight): its GEMM is skipped
     * @param dBias null when the layer has no bias or its gradient is not wanted
     */
    public static INDArray backward(INDArray x, INDArray w, INDArray dy, INDArray dW, INDArray dBias) {
        if (dW != null) {
            Nd4j.gemm(dy, x, dW, true, false, 1.0, 1.0);
        }
        if (dBias != null) {
            dBias.addi(dy.sum(0));
        }
        INDArray dx = Nd4j.createUninitialized(x.dataType(), x.rows(), x.columns());
        Nd4j.gemm(dy, w, dx, false, false, 1.0, 0.0);
        return dx;
    }
}
