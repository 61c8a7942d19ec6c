package org.sparseft.numerics;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.ByteBuffer;

/**
 * Fused element-wise kernels for the model's forward and backward passes: a norm, an activation, the rotary
 * embedding or the attention softmax in one pass over memory instead of the five to twelve ND4J operations (each a
 * full pass and a native call) their unfused forms take. They run on the CPU backend, float32, when the JVM was
 * started with {@code --add-modules jdk.incubator.vector} (sparseft's launchers and Spark settings pass it); otherwise
 * {@link #enabled()} is false and the callers use their ND4J forms, which compute the same functions. Setting the
 * system property {@code sparseft.fused=false} turns them off, to compare.
 *
 * <p>Outputs are new arrays in the current workspace; inputs that are views or not row-major are copied first.
 * Results are deterministic and the same on every x86 CPU, but not bit-identical to the unfused forms (different
 * summation order and exp).
 */
public final class Fused {
    private static final boolean ENABLED = !"false".equals(System.getProperty("sparseft.fused"))
            && ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && Nd4j.getEnvironment().isCPU();

    private Fused() {
    }

    /** Whether the fused kernels are in use in this JVM. */
    public static boolean enabled() {
        return ENABLED;
    }

    /** Whether the fused kernels apply to these arrays: enabled, and every array float32. */
    public static boolean accepts(INDArray... arrays) {
        if (!ENABLED) {
            return false;
        }
        for (INDArray a : arrays) {
            if (a != null && (a.dataType() != DataType.FLOAT || a.length() * 4L > Integer.MAX_VALUE)) {
                return false;
            }
        }
        return true;
    }

    /** The array itself when it is a dense row-major buffer of its own, else a row-major copy. */
    private static INDArray dense(INDArray a) {
        boolean own = a.ordering() == 'c' && a.offset() == 0 && a.data().length() == a.length()
                && (a.length() <= 1 || a.elementWiseStride() == 1);
        return own ? a : a.dup('c');
    }

    private static ByteBuffer nio(INDArray a) {
        return a.data().asNio();
    }

    private static INDArray like(INDArray a) {
        return Nd4j.createUninitialized(DataType.FLOAT, a.shape());
    }

    private static int rows(INDArray x) {
        return (int) (x.length() / x.size(-1));
    }

    /** Returns {y, x̂, 1/σ [rows, 1]} of RMSNorm over the last dimension. */
    public static INDArray[] rmsNorm(INDArray x, INDArray gamma, double eps) {
        x = dense(x);
        gamma = dense(gamma);
        int rows = rows(x);
        int d = (int) x.size(-1);
        INDArray y = like(x);
        INDArray xhat = like(x);
        INDArray rstd = Nd4j.createUninitialized(DataType.FLOAT, rows, 1);
        VectorKernels.rmsNorm(nio(x), nio(gamma), rows, d, (float) eps, nio(y), nio(xhat), nio(rstd));
        return new INDArray[] {y, xhat, rstd};
    }

    /** Returns {y, x̂, 1/σ [rows, 1]} of LayerNorm over the last dimension; beta may be null. */
    public static INDArray[] layerNorm(INDArray x, INDArray gamma, INDArray beta, double eps) {
        x = dense(x);
        gamma = dense(gamma);
        INDArray b = beta == null ? null : dense(beta);
        int rows = rows(x);
        int d = (int) x.size(-1);
        INDArray y = like(x);
        INDArray xhat = like(x);
        INDArray rstd = Nd4j.createUninitialized(DataType.FLOAT, rows, 1);
        VectorKernels.layerNorm(nio(x), nio(gamma), b == null ? null : nio(b), rows, d, (float) eps, nio(y), nio(xhat),
                nio(rstd));
        return new INDArray[] {y, xhat, rstd};
    }

    /**
     * The input gradient of LayerNorm ({@code centered}) or RMSNorm from the saved x̂ and 1/σ; adds the gradients of
     * γ and β into dGamma and dBeta when they are not null.
     */
    public static INDArray normBackward(boolean centered, INDArray dy, INDArray gamma, INDArray xhat, INDArray rstd,
                                        INDArray dGamma, INDArray dBeta) {
        dy = dense(dy);
        gamma = dense(gamma);
        xhat = dense(xhat);
        rstd = dense(rstd);
        int rows = rows(dy);
        int d = (int) dy.size(-1);
        INDArray dx = like(dy);
        float[] g = dGamma == null ? null : new float[d];
        float[] b = dBeta == null ? null : new float[d];
        VectorKernels.normBackward(centered, nio(dy), nio(gamma), nio(xhat), nio(rstd), rows, d, nio(dx), g, b);
        if (dGamma != null) {
            dGamma.addi(Nd4j.createFromArray(g).reshape(dGamma.shape()));
        }
        if (dBeta != null) {
            dBeta.addi(Nd4j.createFromArray(b).reshape(dBeta.shape()));
        }
        return dx;
    }

    /** silu(gate)·up. */
    public static INDArray swiglu(INDArray gate, INDArray up) {
        gate = dense(gate);
        up = dense(up);
        INDArray h = like(gate);
        VectorKernels.swiglu(nio(gate), nio(up), gate.length(), nio(h));
        return h;
    }

    /** Returns {dGate, dUp}. */
    public static INDArray[] swigluBackward(INDArray gate, INDArray up, INDArray dh) {
        gate = dense(gate);
        up = dense(up);
        dh = dense(dh);
        INDArray dGate = like(gate);
        INDArray dUp = like(gate);
        VectorKernels.swigluBackward(nio(gate), nio(up), nio(dh), gate.length(), nio(dGate), nio(dUp));
        return new INDArray[] {dGate, dUp};
    }

    /** GELU, tanh form. */
    public static INDArray gelu(INDArray x) {
        x = dense(x);
        INDArray y = like(x);
        VectorKernels.gelu(nio(x), x.length(), nio(y));
        return y;
    }

    /** dx of GELU (tanh form) from the saved input. */
    public static INDArray geluBackward(INDArray x, INDArray dy) {
        x = dense(x);
        dy = dense(dy);
        INDArray dx = like(x);
        VectorKernels.geluBackward(nio(x), nio(dy), x.length(), nio(dx));
        return dx;
    }

    /** Rotary embedding of x [bh, T, d] with cos and sin tables [T, d/2]; {@code inverse} rotates back. */
    public static INDArray rope(INDArray x, INDArray cos, INDArray sin, boolean inverse) {
        x = dense(x);
        cos = dense(cos);
        sin = dense(sin);
        INDArray y = like(x);
        VectorKernels.rope(nio(x), nio(cos), nio(sin), (int) x.size(0), (int) x.size(1), (int) x.size(2),
                inverse, nio(y));
        return y;
    }

    /**
     * Turns raw attention scores [bh, T, T] into probabilities, in place: softmax of scale·scores over the keys a
     * query sees (j ≤ i, and i − j &lt; window when window &gt; 0), exact zeros elsewhere.
     */
    public static INDArray causalSoftmaxInPlace(INDArray scores, int window, double scale) {
        INDArray s = dense(scores);
        if (s != scores) {
            throw new IllegalArgumentException("scores must be a dense row-major array of their own");
        }
        VectorKernels.causalSoftmax(nio(s), (int) s.size(0), (int) s.size(1), window, (float) scale);
        return s;
    }

    /** Softmax backward in place on dP: dS = P ⊙ (dP − Σⱼ dPⱼPⱼ)·scale over the last dimension. */
    public static INDArray softmaxBackwardInPlace(INDArray dP, INDArray p, double scale) {
        INDArray d = dense(dP);
        if (d != dP) {
            throw new IllegalArgumentException("dP must be a dense row-major array of its own");
        }
        p = dense(p);
        VectorKernels.softmaxBackward(nio(d), nio(p), rows(d), (int) d.size(-1), (float) scale);
        return d;
    }

    /**
     * Each row's negative log-likelihood of its target into {@code nll} (0 where the target is negative: ignored),
     * and, when {@code gradientScale} is not 0, returns (softmax − one-hot)·gradientScale for the counted rows and
     * zero rows for the ignored ones; else null.
     */
    public static INDArray crossEntropy(INDArray logits, int[] targets, double[] nll, double gradientScale) {
        logits = dense(logits);
        INDArray grad = gradientScale == 0 ? null : like(logits);
        VectorKernels.crossEntropy(nio(logits), (int) logits.rows(), (int) logits.columns(), targets, nll,
                grad == null ? null : nio(grad), (float) gradientScale);
        return grad;
    }

    /**
     * Adds x's per-feature Σx, Σx² and within-sequence Σ(x − mean)² (x [sequences·seqLen, d], sequences row after
     * row) to the three arrays, in float64; see {@code FeatureStats}.
     */
    public static void addFeatureSums(INDArray x, int sequences, int seqLen, double[] sum, double[] sumSquares,
                                      double[] within) {
        x = dense(x);
        VectorKernels.featureSums(nio(x), sequences, seqLen, (int) x.columns(), sum, sumSquares, within);
    }

    /**
     * Adds the lower triangle (with the diagonal) of the float32 matrix g [d, d] to acc, the same triangle packed row
     * after row in float64 (g_ij, j ≤ i, at i(i+1)/2 + j).
     */
    public static void addLowerTrianglePacked(INDArray g, double[] acc) {
        g = dense(g);
        VectorKernels.addLowerTrianglePacked(nio(g), (int) g.rows(), acc);
    }
}
