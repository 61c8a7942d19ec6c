package org.sparseft.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.numerics.Fused;

import java.util.concurrent.atomic.LongAdder;

/** y = x·Wᵀ + b with W [out, in]: one GEMM, the transpose taken by GEMM's flag rather than a copy. */
public final class Linear {
    /**
     * With {@code -Dsparseft.clock.linears=true}, the wall time inside the linears' GEMMs is added up for profiling
     * tools (deploy/tools/StepLoop.java): a direct clock where a sampling profiler only estimates. Off, the JIT drops
     * the clock's branches.
     */
    private static final boolean CLOCKED = Boolean.getBoolean("sparseft.clock.linears");
    private static final LongAdder GEMM_NANOS = new LongAdder();

    private Linear() {
    }

    /** Nanoseconds spent in the linears' GEMMs since the last call (0 unless clocked). */
    public static long takeGemmNanos() {
        return GEMM_NANOS.sumThenReset();
    }

    private static void gemm(INDArray a, INDArray b, INDArray c, boolean transposeA, boolean transposeB, double beta) {
        long start = CLOCKED ? System.nanoTime() : 0;
        Nd4j.gemm(a, b, c, transposeA, transposeB, 1.0, beta);
        if (CLOCKED) {
            GEMM_NANOS.add(System.nanoTime() - start);
        }
    }

    /** @param bias [out] or null */
    public static INDArray forward(INDArray x, INDArray w, INDArray bias) {
        INDArray y = Nd4j.createUninitialized(x.dataType(), x.rows(), w.rows()); // GEMM with β = 0 writes all
        gemm(x, w, y, false, true, 0.0);
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
            gemm(dy, x, dW, true, false, 1.0);
        }
        if (dBias != null) {
            if (Fused.accepts(dy, dBias)) { // libnd4j's column sums took 5-7 times as long (docs/performance.md)
                Fused.addColumnSums(dy, dBias);
            } else {
                dBias.addi(dy.sum(0));
            }
        }
        INDArray dx = Nd4j.createUninitialized(x.dataType(), x.rows(), x.columns());
        gemm(dy, w, dx, false, false, 0.0);
        return dx;
    }
}
