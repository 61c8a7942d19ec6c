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
 * Large inputs are split by rows (or elements) over the {@link KernelThreads kernel threads}, each part computing
 * what the whole loop would; the norms' parameter gradients are summed over all rows in order in one of the parts.
 * Results are deterministic, the same whatever the thread count and on every x86 CPU, but not bit-identical to the
 * unfused forms (different summation order and exp).
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

    // A part of a split kernel is worth a thread's wake-up (some microseconds) from about this many values on.
    private static final long ELEMENTS_PER_PART = 1 << 15;
    private static final long ALIGN = 64; // element parts start on vector and cache-line boundaries

    private static long rowsPerPart(int rowLength) {
        return Math.max(1, ELEMENTS_PER_PART / Math.max(1, rowLength));
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
        ByteBuffer in = nio(x);
        ByteBuffer g = nio(gamma);
        ByteBuffer out = nio(y);
        ByteBuffer hat = nio(xhat);
        ByteBuffer inv = nio(rstd);
        KernelThreads.forEachPart(rows, rowsPerPart(d), 1,
                (from, to) -> VectorKernels.rmsNorm(in, g, from, to, d, (float) eps, out, hat, inv), null);
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
        ByteBuffer in = nio(x);
        ByteBuffer g = nio(gamma);
        ByteBuffer shift = b == null ? null : nio(b);
        ByteBuffer out = nio(y);
        ByteBuffer hat = nio(xhat);
        ByteBuffer inv = nio(rstd);
        KernelThreads.forEachPart(rows, rowsPerPart(d), 1,
                (from, to) -> VectorKernels.layerNorm(in, g, shift, from, to, d, (float) eps, out, hat, inv), null);
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
        ByteBuffer dOut = nio(dy);
        ByteBuffer scale = nio(gamma);
        ByteBuffer hat = nio(xhat);
        ByteBuffer inv = nio(rstd);
        ByteBuffer dIn = nio(dx);
        KernelThreads.forEachPart(rows, rowsPerPart(d), 1,
                (from, to) -> VectorKernels.normBackward(centered, dOut, scale, hat, inv, from, to, d, dIn),
                g == null && b == null ? null : () -> VectorKernels.normParameterGradients(dOut, hat, rows, d, g, b));
        if (dGamma != null) {
            dGamma.addi(Nd4j.createFromArray(g).reshape(dGamma.shape()));
        }
        if (dBeta != null) {
            dBeta.addi(Nd4j.createFromArray(b).reshape(dBeta.shape()));
        }
        return dx;
    }

    /**
     * Adds the column sums of {@code dy} [rows, d] into {@code into} ([d] or [1, d]): a bias's gradient. One pass over
     * the rows in order on the calling thread (a bias gradient is small next to the products around it), so each sum
     * runs in row order whatever the thread count.
     */
    public static void addColumnSums(INDArray dy, INDArray into) {
        dy = dense(dy);
        int d = (int) dy.size(-1);
        float[] sums = new float[d];
        VectorKernels.normParameterGradients(nio(dy), null, rows(dy), d, null, sums);
        into.addi(Nd4j.createFromArray(sums).reshape(into.shape()));
    }

    /** silu(gate)·up. */
    public static INDArray swiglu(INDArray gate, INDArray up) {
        gate = dense(gate);
        up = dense(up);
        INDArray h = like(gate);
        ByteBuffer gt = nio(gate);
        ByteBuffer u = nio(up);
        ByteBuffer out = nio(h);
        KernelThreads.forEachPart(gate.length(), ELEMENTS_PER_PART, ALIGN,
                (from, to) -> VectorKernels.swiglu(gt, u, from, to, out), null);
        return h;
    }

    /** Returns {dGate, dUp}. */
    public static INDArray[] swigluBackward(INDArray gate, INDArray up, INDArray dh) {
        gate = dense(gate);
        up = dense(up);
        dh = dense(dh);
        INDArray dGate = like(gate);
        INDArray dUp = like(gate);
        ByteBuffer gt = nio(gate);
        ByteBuffer u = nio(up);
        ByteBuffer dOut = nio(dh);
        ByteBuffer dg = nio(dGate);
        ByteBuffer du = nio(dUp);
        KernelThreads.forEachPart(gate.length(), ELEMENTS_PER_PART, ALIGN,
                (from, to) -> VectorKernels.swigluBackward(gt, u, dOut, from, to, dg, du), null);
        return new INDArray[] {dGate, dUp};
    }

    /** GELU, tanh form. */
    public static INDArray gelu(INDArray x) {
        x = dense(x);
        INDArray y = like(x);
        ByteBuffer in = nio(x);
        ByteBuffer out = nio(y);
        KernelThreads.forEachPart(x.length(), ELEMENTS_PER_PART, ALIGN,
                (from, to) -> VectorKernels.gelu(in, from, to, out), null);
        return y;
    }

    /** dx of GELU (tanh form) from the saved input. */
    public static INDArray geluBackward(INDArray x, INDArray dy) {
        x = dense(x);
        dy = dense(dy);
        INDArray dx = like(x);
        ByteBuffer in = nio(x);
        ByteBuffer dOut = nio(dy);
        ByteBuffer dIn = nio(dx);
        KernelThreads.forEachPart(x.length(), ELEMENTS_PER_PART, ALIGN,
                (from, to) -> VectorKernels.geluBackward(in, dOut, from, to, dIn), null);
        return dx;
    }

    /** Rotary embedding of x [bh, T, d] with cos and sin tables [T, d/2]; {@code inverse} rotates back. */
    public static INDArray rope(INDArray x, INDArray cos, INDArray sin, boolean inverse) {
        x = dense(x);
        cos = dense(cos);
        sin = dense(sin);
        INDArray y = like(x);
        ByteBuffer in = nio(x);
        ByteBuffer c = nio(cos);
        ByteBuffer s = nio(sin);
        ByteBuffer out = nio(y);
        int seqLen = (int) x.size(1);
        int headDim = (int) x.size(2);
        KernelThreads.forEachPart(x.size(0) * seqLen, rowsPerPart(headDim), 1,
                (from, to) -> VectorKernels.rope(in, c, s, from, to, seqLen, headDim, inverse, out), null);
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
        ByteBuffer b = nio(s);
        int seqLen = (int) s.size(1);
        KernelThreads.forEachPart(s.size(0) * seqLen, rowsPerPart(seqLen), 1,
                (from, to) -> VectorKernels.causalSoftmax(b, from, to, seqLen, window, (float) scale), null);
        return s;
    }

    /** Softmax backward in place on dP: dS = P ⊙ (dP − Σⱼ dPⱼPⱼ)·scale over the last dimension. */
    public static INDArray softmaxBackwardInPlace(INDArray dP, INDArray p, double scale) {
        INDArray d = dense(dP);
        if (d != dP) {
            throw new IllegalArgumentException("dP must be a dense row-major array of its own");
        }
        p = dense(p);
        ByteBuffer grad = nio(d);
        ByteBuffer probs = nio(p);
        int seqLen = (int) d.size(-1);
        KernelThreads.forEachPart(rows(d), rowsPerPart(seqLen), 1,
                (from, to) -> VectorKernels.softmaxBackward(grad, probs, from, to, seqLen, (float) scale), null);
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
        ByteBuffer in = nio(logits);
        ByteBuffer out = grad == null ? null : nio(grad);
        int v = (int) logits.columns();
        KernelThreads.forEachPart(logits.rows(), rowsPerPart(v), 1, (from, to) -> VectorKernels.crossEntropy(in,
                (int) from, (int) to, v, targets, nll, out, (float) gradientScale), null);
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
