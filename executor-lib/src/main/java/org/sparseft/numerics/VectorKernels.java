package org.sparseft.numerics;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The loops behind {@link Fused}, written with Java's Vector API over the arrays' native memory: each reads its inputs
 * once and writes its outputs once. Buffers start at the array's first value; indices and lengths are in floats. Every
 * lane operation here is an IEEE-exact one (add, multiply, fused multiply-add, divide, square root, compare), and exp
 * is built from them, so a result has
 * the same bits before and after the JIT compiles a loop and on AVX2 and AVX-512 alike; the 256-bit species is fixed
 * for the same reason (a wider one would change the order of the per-row sums). Loaded only when the
 * {@code jdk.incubator.vector} module is present.
 */
final class VectorKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_256;
    private static final int L = S.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private VectorKernels() {
    }

    private static FloatVector load(ByteBuffer b, long index) {
        return FloatVector.fromByteBuffer(S, b, (int) (index * 4), LE);
    }

    private static void store(FloatVector v, ByteBuffer b, long index) {
        v.intoByteBuffer(b, (int) (index * 4), LE);
    }

    private static float get(ByteBuffer b, long index) {
        return b.getFloat((int) (index * 4));
    }

    private static void put(ByteBuffer b, long index, float v) {
        b.putFloat((int) (index * 4), v);
    }

    // exp(x) = 2ⁿ·p(r), n = round(x/ln 2), r = x − n·ln 2 (in two parts), p a degree-7 Taylor polynomial on
    // |r| ≤ ln2/2 (truncation error 5e-9, below the rounding); inputs clamped to [−87, 88], where 2ⁿ stays a normal
    // float (exp(−87) is 1.6e-38)
    private static final float LOG2E = 1.44269504f;
    private static final float LN2_HI = 0.693145752f;
    private static final float LN2_LO = 1.42860677e-6f;
    private static final float ROUND = 12582912f; // 1.5·2²³: adding it rounds to an integer in the low mantissa bits
    private static final float MAX = 88.0f;
    private static final float MIN = -87.0f;

    static FloatVector exp(FloatVector x) {
        FloatVector c = x.max(MIN).min(MAX);
        FloatVector t = c.fma(LOG2E, ROUND);
        FloatVector n = t.sub(ROUND);
        FloatVector r = c.sub(n.mul(LN2_HI)).sub(n.mul(LN2_LO)); // n·LN2_HI is exact: LN2_HI has 15 bits
        FloatVector p = r.fma(1f / 5040, 1f / 720);
        p = p.fma(r, FloatVector.broadcast(S, 1f / 120));
        p = p.fma(r, FloatVector.broadcast(S, 1f / 24));
        p = p.fma(r, FloatVector.broadcast(S, 1f / 6));
        p = p.fma(r, FloatVector.broadcast(S, 0.5f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        IntVector bits = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUND)).add(127).lanewise(
                VectorOperators.LSHL, 23);
        return p.mul(bits.reinterpretAsFloats());
    }

    /** The same function lane by lane, bit for bit. */
    static float exp(float x) {
        float c = Math.min(Math.max(x, MIN), MAX);
        float t = Math.fma(c, LOG2E, ROUND);
        float n = t - ROUND;
        float r = c - n * LN2_HI - n * LN2_LO;
        float p = Math.fma(r, 1f / 5040, 1f / 720);
        p = Math.fma(p, r, 1f / 120);
        p = Math.fma(p, r, 1f / 24);
        p = Math.fma(p, r, 1f / 6);
        p = Math.fma(p, r, 0.5f);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        int bits = (Float.floatToRawIntBits(t) - Float.floatToRawIntBits(ROUND) + 127) << 23;
        return p * Float.intBitsToFloat(bits);
    }

    private static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(S, 1f).div(exp(x.neg()).add(1f));
    }

    private static float sigmoid(float x) {
        return 1f / (exp(-x) + 1f);
    }

    /** tanh(u) = 1 − 2/(e^{2u} + 1). */
    private static FloatVector tanh(FloatVector u) {
        return FloatVector.broadcast(S, 1f).sub(FloatVector.broadcast(S, 2f).div(exp(u.add(u)).add(1f)));
    }

    private static float tanh(float u) {
        return 1f - 2f / (exp(u + u) + 1f);
    }

    /**
     * The lanes' sum from lane 0 up, always in that order: {@code reduceLanes(ADD)} leaves the order of float additions
     * to the implementation (a JIT may pair lanes differently than the interpreter), which would let bits depend on
     * when a loop was compiled.
     */
    private static float addLanes(FloatVector v) {
        float[] lanes = v.toArray();
        float s = lanes[0];
        for (int i = 1; i < lanes.length; i++) {
            s += lanes[i];
        }
        return s;
    }

    /** Σ a·b over [ia, ia + n) and [ib, ib + n): eight partial sums, then added lane by lane in a fixed order. */
    private static float dot(ByteBuffer a, long ia, ByteBuffer b, long ib, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            acc = load(a, ia + i).fma(load(b, ib + i), acc);
        }
        float s = addLanes(acc);
        for (; i < n; i++) {
            s = Math.fma(get(a, ia + i), get(b, ib + i), s);
        }
        return s;
    }

    private static float sum(ByteBuffer a, long ia, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            acc = acc.add(load(a, ia + i));
        }
        float s = addLanes(acc);
        for (; i < n; i++) {
            s += get(a, ia + i);
        }
        return s;
    }

    // ----- normalisation over the last dimension of [rows, d]

    /** RMSNorm: x̂ = x/√(mean(x²) + ε), y = x̂·γ; writes y, x̂ and 1/σ per row. */
    static void rmsNorm(ByteBuffer x, ByteBuffer gamma, long from, long to, int d, float eps, ByteBuffer y,
                        ByteBuffer xhat, ByteBuffer rstd) {
        for (long r = from; r < to; r++) {
            long row = r * d;
            float inv = (float) (1.0 / Math.sqrt(dot(x, row, x, row, d) / d + eps));
            put(rstd, r, inv);
            int i = 0;
            for (; i <= d - L; i += L) {
                FloatVector h = load(x, row + i).mul(inv);
                store(h, xhat, row + i);
                store(h.mul(load(gamma, i)), y, row + i);
            }
            for (; i < d; i++) {
                float h = get(x, row + i) * inv;
                put(xhat, row + i, h);
                put(y, row + i, h * get(gamma, i));
            }
        }
    }

    /**
     * LayerNorm: x̂ = (x − μ)/√(σ² + ε), y = x̂·γ + β (β may be null); writes y, x̂ and 1/σ per row. The variance is
     * the mean of squared deviations (a second pass), as the unfused form computes it.
     */
    static void layerNorm(ByteBuffer x, ByteBuffer gamma, ByteBuffer beta, long from, long to, int d,
                          float eps, ByteBuffer y, ByteBuffer xhat, ByteBuffer rstd) {
        for (long r = from; r < to; r++) {
            long row = r * d;
            float mean = sum(x, row, d) / d;
            FloatVector acc = FloatVector.zero(S);
            int i = 0;
            for (; i <= d - L; i += L) {
                FloatVector c = load(x, row + i).sub(mean);
                acc = c.fma(c, acc);
            }
            float ss = addLanes(acc);
            for (; i < d; i++) {
                float c = get(x, row + i) - mean;
                ss = Math.fma(c, c, ss);
            }
            float inv = (float) (1.0 / Math.sqrt(ss / d + eps));
            put(rstd, r, inv);
            for (i = 0; i <= d - L; i += L) {
                FloatVector h = load(x, row + i).sub(mean).mul(inv);
                store(h, xhat, row + i);
                FloatVector out = h.mul(load(gamma, i));
                store(beta == null ? out : out.add(load(beta, i)), y, row + i);
            }
            for (; i < d; i++) {
                float h = (get(x, row + i) - mean) * inv;
                put(xhat, row + i, h);
                float out = h * get(gamma, i);
                put(y, row + i, beta == null ? out : out + get(beta, i));
            }
        }
    }

    /**
     * Backward of both norms: g = dy·γ, dx = (g − mean(g) − x̂·mean(g·x̂))/σ ({@code centered}, LayerNorm) or
     * (g − x̂·mean(g·x̂))/σ (RMSNorm), for rows [from, to).
     */
    static void normBackward(boolean centered, ByteBuffer dy, ByteBuffer gamma, ByteBuffer xhat, ByteBuffer rstd,
                             long from, long to, int d, ByteBuffer dx) {
        for (long r = from; r < to; r++) {
            long row = r * d;
            FloatVector accG = FloatVector.zero(S);
            FloatVector accGx = FloatVector.zero(S);
            int i = 0;
            for (; i <= d - L; i += L) {
                FloatVector g = load(dy, row + i).mul(load(gamma, i));
                accG = accG.add(g);
                accGx = g.fma(load(xhat, row + i), accGx);
            }
            float sg = addLanes(accG);
            float sgx = addLanes(accGx);
            for (; i < d; i++) {
                float g = get(dy, row + i) * get(gamma, i);
                sg += g;
                sgx = Math.fma(g, get(xhat, row + i), sgx);
            }
            float meanG = centered ? sg / d : 0f;
            float meanGx = sgx / d;
            float inv = get(rstd, r);
            for (i = 0; i <= d - L; i += L) {
                FloatVector h = load(xhat, row + i);
                FloatVector g = load(dy, row + i).mul(load(gamma, i));
                store(g.sub(meanG).sub(h.mul(meanGx)).mul(inv), dx, row + i);
            }
            for (; i < d; i++) {
                float h = get(xhat, row + i);
                float g = get(dy, row + i) * get(gamma, i);
                put(dx, row + i, (g - meanG - h * meanGx) * inv);
            }
        }
    }

    /**
     * The norms' parameter gradients: adds Σ_rows dy·x̂ into dGamma and Σ_rows dy into dBeta (either may be null; with
     * dGamma null, a bias's gradient), row after row in order, so the sums do not depend on how the input gradient's
     * rows were split.
     */
    static void normParameterGradients(ByteBuffer dy, ByteBuffer xhat, long rows, int d, float[] dGamma,
                                       float[] dBeta) {
        for (long r = 0; r < rows; r++) {
            long row = r * d;
            int i = 0;
            for (; i <= d - L; i += L) {
                FloatVector dyv = load(dy, row + i);
                if (dGamma != null) {
                    dyv.fma(load(xhat, row + i), FloatVector.fromArray(S, dGamma, i)).intoArray(dGamma, i);
                }
                if (dBeta != null) {
                    dyv.add(FloatVector.fromArray(S, dBeta, i)).intoArray(dBeta, i);
                }
            }
            for (; i < d; i++) {
                float dyv = get(dy, row + i);
                if (dGamma != null) {
                    dGamma[i] = Math.fma(dyv, get(xhat, row + i), dGamma[i]);
                }
                if (dBeta != null) {
                    dBeta[i] += dyv;
                }
            }
        }
    }

    // ----- activations, element by element over [from, to)

    /** h = silu(gate)·up = gate·σ(gate)·up. */
    static void swiglu(ByteBuffer gate, ByteBuffer up, long from, long to, ByteBuffer h) {
        long i = from;
        for (; i <= to - L; i += L) {
            FloatVector g = load(gate, i);
            store(g.mul(sigmoid(g)).mul(load(up, i)), h, i);
        }
        for (; i < to; i++) {
            float g = get(gate, i);
            put(h, i, g * sigmoid(g) * get(up, i));
        }
    }

    /** dUp = dh·silu(g), dGate = dh·up·σ(g)(1 + g(1 − σ(g))). */
    static void swigluBackward(ByteBuffer gate, ByteBuffer up, ByteBuffer dh, long from, long to, ByteBuffer dGate,
                               ByteBuffer dUp) {
        long i = from;
        for (; i <= to - L; i += L) {
            FloatVector g = load(gate, i);
            FloatVector s = sigmoid(g);
            FloatVector d = load(dh, i);
            store(d.mul(g.mul(s)), dUp, i);
            FloatVector dsilu = s.mul(g.mul(FloatVector.broadcast(S, 1f).sub(s)).add(1f));
            store(d.mul(load(up, i)).mul(dsilu), dGate, i);
        }
        for (; i < to; i++) {
            float g = get(gate, i);
            float s = sigmoid(g);
            float d = get(dh, i);
            put(dUp, i, d * (g * s));
            put(dGate, i, d * get(up, i) * (s * (g * (1f - s) + 1f)));
        }
    }

    private static final float GELU_C = (float) Math.sqrt(2.0 / Math.PI);
    private static final float GELU_A = 0.044715f;

    /** 0.5·x·(1 + tanh(√(2/π)(x + 0.044715·x³))). */
    static void gelu(ByteBuffer x, long from, long to, ByteBuffer y) {
        long i = from;
        for (; i <= to - L; i += L) {
            FloatVector v = load(x, i);
            FloatVector t = tanh(v.mul(v).fma(GELU_A, 1f).mul(v).mul(GELU_C));
            store(t.add(1f).mul(v).mul(0.5f), y, i);
        }
        for (; i < to; i++) {
            float v = get(x, i);
            float t = tanh(Math.fma(v * v, GELU_A, 1f) * v * GELU_C);
            put(y, i, (t + 1f) * v * 0.5f);
        }
    }

    /** dx = dy·(0.5(1 + t) + 0.5·x·(1 − t²)·√(2/π)(1 + 3·0.044715·x²)). */
    static void geluBackward(ByteBuffer x, ByteBuffer dy, long from, long to, ByteBuffer dx) {
        long i = from;
        for (; i <= to - L; i += L) {
            FloatVector v = load(x, i);
            FloatVector x2 = v.mul(v);
            FloatVector t = tanh(x2.fma(GELU_A, 1f).mul(v).mul(GELU_C));
            FloatVector inner = x2.fma(3 * GELU_A, 1f).mul(GELU_C);
            FloatVector sech2 = FloatVector.broadcast(S, 1f).sub(t.mul(t));
            FloatVector d = sech2.mul(inner).mul(v).mul(0.5f).add(t.add(1f).mul(0.5f));
            store(d.mul(load(dy, i)), dx, i);
        }
        for (; i < to; i++) {
            float v = get(x, i);
            float x2 = v * v;
            float t = tanh(Math.fma(x2, GELU_A, 1f) * v * GELU_C);
            float inner = Math.fma(x2, 3 * GELU_A, 1f) * GELU_C;
            float d = (1f - t * t) * inner * v * 0.5f + (t + 1f) * 0.5f;
            put(dx, i, d * get(dy, i));
        }
    }

    // ----- attention

    /**
     * Rotary embedding of rows [from, to) of x [bh, T, hd] (as [bh·T, hd]) in rotate_half form with tables [T, hd/2]:
     * y₁ = x₁c − x₂s, y₂ = x₂c + x₁s; {@code inverse} rotates by −angle.
     */
    static void rope(ByteBuffer x, ByteBuffer cos, ByteBuffer sin, long from, long to, int seqLen, int headDim,
                     boolean inverse, ByteBuffer y) {
        int half = headDim / 2;
        for (long r = from; r < to; r++) { // rows of [bh·T, hd]
            long row = r * headDim;
            long tab = r % seqLen * half;
            int i = 0;
            for (; i <= half - L; i += L) {
                FloatVector x1 = load(x, row + i);
                FloatVector x2 = load(x, row + half + i);
                FloatVector c = load(cos, tab + i);
                FloatVector s = load(sin, tab + i);
                if (inverse) {
                    store(x1.mul(c).add(x2.mul(s)), y, row + i);
                    store(x2.mul(c).sub(x1.mul(s)), y, row + half + i);
                } else {
                    store(x1.mul(c).sub(x2.mul(s)), y, row + i);
                    store(x2.mul(c).add(x1.mul(s)), y, row + half + i);
                }
            }
            for (; i < half; i++) {
                float x1 = get(x, row + i);
                float x2 = get(x, row + half + i);
                float c = get(cos, tab + i);
                float s = get(sin, tab + i);
                put(y, row + i, inverse ? x1 * c + x2 * s : x1 * c - x2 * s);
                put(y, row + half + i, inverse ? x2 * c - x1 * s : x2 * c + x1 * s);
            }
        }
    }

    /**
     * Scaled, causally masked softmax over the last dimension of scores [bh, T, T], in place, for rows [from, to) of
     * [bh·T, T]: row i of each matrix keeps keys j ≤ i (and i − j &lt; window when window &gt; 0); masked entries
     * become exactly 0.
     */
    static void causalSoftmax(ByteBuffer s, long from, long to, int seqLen, int window, float scale) {
        for (long r = from; r < to; r++) { // rows of [bh·T, T]
            int q = (int) (r % seqLen);
            long row = r * seqLen;
            int lo = window > 0 ? Math.max(0, q - window + 1) : 0;
            int hi = q + 1;
            fill(s, row, 0, lo);
            float max = Float.NEGATIVE_INFINITY;
            for (int j = lo; j < hi; j++) {
                max = Math.max(max, get(s, row + j));
            }
            float shift = max * scale;
            FloatVector acc = FloatVector.zero(S);
            int j = lo;
            for (; j <= hi - L; j += L) {
                FloatVector e = exp(load(s, row + j).fma(scale, -shift));
                store(e, s, row + j);
                acc = acc.add(e);
            }
            float total = addLanes(acc);
            for (; j < hi; j++) {
                float e = exp(Math.fma(get(s, row + j), scale, -shift));
                put(s, row + j, e);
                total += e;
            }
            float inv = 1f / total;
            for (j = lo; j <= hi - L; j += L) {
                store(load(s, row + j).mul(inv), s, row + j);
            }
            for (; j < hi; j++) {
                put(s, row + j, get(s, row + j) * inv);
            }
            fill(s, row, hi, seqLen);
        }
    }

    private static void fill(ByteBuffer b, long row, int from, int to) {
        int j = from;
        FloatVector zero = FloatVector.zero(S);
        for (; j <= to - L; j += L) {
            store(zero, b, row + j);
        }
        for (; j < to; j++) {
            put(b, row + j, 0f);
        }
    }

    /** Softmax backward, in place on dP: dS = P ⊙ (dP − Σⱼ dPⱼPⱼ) · scale, row by row over [rows, T]. */
    static void softmaxBackward(ByteBuffer dp, ByteBuffer p, long from, long to, int seqLen, float scale) {
        for (long r = from; r < to; r++) {
            long row = r * seqLen;
            float rowDot = dot(dp, row, p, row, seqLen);
            int j = 0;
            for (; j <= seqLen - L; j += L) {
                FloatVector v = load(dp, row + j).sub(rowDot).mul(load(p, row + j)).mul(scale);
                store(v, dp, row + j);
            }
            for (; j < seqLen; j++) {
                put(dp, row + j, (get(dp, row + j) - rowDot) * get(p, row + j) * scale);
            }
        }
    }

    /**
     * Cross-entropy of each row of logits [rows, v] against its target: nll[r] = log Σⱼ exp(xⱼ) − x[target]; with
     * {@code grad}, writes softmax(row)·scale with scale subtracted at the target (ignored rows, target &lt; 0, get
     * nll 0 and a zero row).
     */
    static void crossEntropy(ByteBuffer x, int from, int to, int v, int[] targets, double[] nll, ByteBuffer grad,
                             float scale) {
        for (int r = from; r < to; r++) {
            long row = (long) r * v;
            if (targets[r] < 0) {
                nll[r] = 0;
                if (grad != null) {
                    fill(grad, row, 0, v);
                }
                continue;
            }
            FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            int j = 0;
            for (; j <= v - L; j += L) {
                mv = mv.max(load(x, row + j));
            }
            float max = mv.reduceLanes(VectorOperators.MAX);
            for (; j < v; j++) {
                max = Math.max(max, get(x, row + j));
            }
            FloatVector acc = FloatVector.zero(S);
            for (j = 0; j <= v - L; j += L) {
                acc = acc.add(exp(load(x, row + j).sub(max)));
            }
            float sum = addLanes(acc);
            for (; j < v; j++) {
                sum += exp(get(x, row + j) - max);
            }
            float lse = max + (float) Math.log(sum);
            nll[r] = (double) lse - get(x, row + targets[r]);
            if (grad != null) {
                for (j = 0; j <= v - L; j += L) {
                    store(exp(load(x, row + j).sub(lse)).mul(scale), grad, row + j);
                }
                for (; j < v; j++) {
                    put(grad, row + j, exp(get(x, row + j) - lse) * scale);
                }
                put(grad, row + targets[r], get(grad, row + targets[r]) - scale);
            }
        }
    }

    // ----- calibration statistics, accumulated in float64

    private static final VectorSpecies<Float> F4 = FloatVector.SPECIES_128;
    private static final VectorSpecies<Double> D4 = DoubleVector.SPECIES_256;

    private static DoubleVector loadAsDoubles(ByteBuffer b, long index) {
        return (DoubleVector) FloatVector.fromByteBuffer(F4, b, (int) (index * 4), LE)
                .convertShape(VectorOperators.F2D, D4, 0);
    }

    /**
     * Adds, per feature j of x [sequences·seqLen, d] (sequences row after row), Σ x, Σ x² and Σ over sequences of
     * Σ_t (x − mean_t x)², computed per sequence as Σx² − (Σx)²/seqLen. Each feature is its own lane, so its sums
     * run token after token in float64 (a float's square is exact in float64) whatever the vector width, and a
     * sequence's sums are added to the totals sequence after sequence.
     */
    static void featureSums(ByteBuffer x, int sequences, int seqLen, int d, double[] sum, double[] sumSquares,
                            double[] within) {
        double[] s = new double[d];
        double[] q = new double[d];
        int vectorEnd = d - d % D4.length();
        for (int seq = 0; seq < sequences; seq++) {
            java.util.Arrays.fill(s, 0);
            java.util.Arrays.fill(q, 0);
            for (int t = 0; t < seqLen; t++) {
                long row = ((long) seq * seqLen + t) * d;
                int j = 0;
                for (; j < vectorEnd; j += D4.length()) {
                    DoubleVector v = loadAsDoubles(x, row + j);
                    DoubleVector.fromArray(D4, s, j).add(v).intoArray(s, j);
                    v.fma(v, DoubleVector.fromArray(D4, q, j)).intoArray(q, j);
                }
                for (; j < d; j++) {
                    double v = get(x, row + j);
                    s[j] += v;
                    q[j] = Math.fma(v, v, q[j]);
                }
            }
            for (int j = 0; j < d; j++) {
                sum[j] += s[j];
                sumSquares[j] += q[j];
                within[j] += q[j] - s[j] * s[j] / seqLen;
            }
        }
    }

    /** acc[i(i+1)/2 + j] += g[i·d + j] for j ≤ i: the lower triangle of a float32 [d, d] matrix into packed float64. */
    static void addLowerTrianglePacked(ByteBuffer g, int d, double[] acc) {
        for (int i = 0; i < d; i++) {
            long row = (long) i * d;
            int to = (int) ((long) i * (i + 1) / 2);
            int j = 0;
            for (; j + D4.length() <= i + 1; j += D4.length()) {
                loadAsDoubles(g, row + j).add(DoubleVector.fromArray(D4, acc, to + j)).intoArray(acc, to + j);
            }
            for (; j <= i; j++) {
                acc[to + j] += get(g, row + j);
            }
        }
    }
}
