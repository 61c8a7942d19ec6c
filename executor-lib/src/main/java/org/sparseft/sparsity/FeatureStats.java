package org.sparseft.sparsity;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.numerics.Fused;
import org.sparseft.numerics.NativeBlas;
import org.sparseft.numerics.Workspaces;

import java.util.Optional;

/**
 * Per-input-feature calibration statistics of one linear's input, in the additive form of docs/algorithms.md §2.3:
 * sums over the calibration tokens that partitions compute on their own sequences and the driver adds in partition
 * order. Per-feature sums are doubles added sequence after sequence, so they do not depend on how a partition's
 * sequences were split into calls, and across partitionings differ only by float64 rounding; the Gram matrix is a
 * float32 product per call summed in doubles, so it (and SparseGPT's result) depends, in float32's last bits, on the
 * calls' split (the micro-batch size, the partition count), though never on scheduling.
 *
 * @param sequences N_seq
 * @param tokens N_tok
 * @param sum S_j = Σ x_j
 * @param sumSquares Q_j = Σ x_j²
 * @param withinSequence V_j = Σ_s Σ_t (x_{s,t,j} − mean_s(x_j))², i.e. Σ_s T·Var_t: DSnoT's variance numerator,
 *                       computed per sequence, so each partition must hold whole sequences
 * @param gram G = Σ x xᵀ for SparseGPT's Hessian (docs/algorithms.md §5.1), its lower triangle packed row after row
 *             (G_ij for j ≤ i at i(i+1)/2 + j: G is symmetric, so half the bytes travel and stay); null when not
 *             collected (features²/2 doubles, so only SparseGPT asks for it)
 */
public record FeatureStats(long sequences, long tokens, double[] sum, double[] sumSquares, double[] withinSequence,
                           double[] gram) {
    public FeatureStats {
        if (gram != null && gram.length != packed(sum.length, 0)) {
            throw new IllegalArgumentException(gram.length + " Gram values for " + sum.length
                    + " features: expected the lower triangle, " + packed(sum.length, 0));
        }
    }

    public FeatureStats(long sequences, long tokens, double[] sum, double[] sumSquares, double[] withinSequence) {
        this(sequences, tokens, sum, sumSquares, withinSequence, null);
    }

    public static FeatureStats empty(int features) {
        return new FeatureStats(0, 0, new double[features], new double[features], new double[features]);
    }

    /** The statistics of {@code x} [batch·seqLen, features], sequences row after row, without the Gram matrix. */
    public static FeatureStats of(INDArray x, int batch, int seqLen) {
        return of(x, batch, seqLen, false);
    }

    /**
     * The statistics of {@code x} [batch·seqLen, features], sequences row after row; with {@code withGram}, also
     * xᵀx (a float32 product per call, summed in doubles across calls, as the reference keeps H in fp32).
     */
    public static FeatureStats of(INDArray x, int batch, int seqLen, boolean withGram) {
        try (Accumulator a = new Accumulator((int) x.columns(), withGram)) {
            a.add(x, batch, seqLen);
            return a.finish();
        }
    }

    /**
     * Sums one input's statistics over calls in place, as a partition does over its micro-batches: per feature the
     * sums run sequence after sequence in doubles (so they do not depend on how a partition's sequences were split
     * into calls), and the Gram matrix's lower triangle is one float32 ssyrk per call added into packed doubles,
     * through a float32 d × d buffer the accumulator keeps (outside any workspace) until {@link #finish()} or
     * {@link #close()}.
     */
    public static final class Accumulator implements AutoCloseable {
        private final int features;
        private final double[] sum;
        private final double[] sumSquares;
        private final double[] within;
        private final double[] gram;
        private INDArray gramFloat;
        private long sequences;
        private long tokens;

        public Accumulator(int features, boolean withGram) {
            this.features = features;
            sum = new double[features];
            sumSquares = new double[features];
            within = new double[features];
            gram = withGram ? new double[packed(features, 0)] : null;
        }

        /** Adds the statistics of {@code x} [batch·seqLen, features], sequences row after row. */
        public void add(INDArray x, int batch, int seqLen) {
            if (x.rank() != 2 || x.columns() != features || x.rows() != (long) batch * seqLen) {
                throw new IllegalArgumentException("inputs of shape " + java.util.Arrays.toString(x.shape())
                        + " for " + batch + " sequences of " + seqLen + " tokens and " + features + " features");
            }
            if (Fused.accepts(x)) {
                Fused.addFeatureSums(x, batch, seqLen, sum, sumSquares, within);
            } else {
                addByArrayOps(x, batch, seqLen);
            }
            if (gram != null) {
                Workspaces.outside(() -> {
                    addGram(x);
                    return null;
                });
            }
            sequences += batch;
            tokens += (long) batch * seqLen;
        }

        private void addByArrayOps(INDArray x, int batch, int seqLen) {
            INDArray xd = x.castTo(DataType.DOUBLE).reshape('c', batch, seqLen, features);
            INDArray perSequence = xd.sum(1); // [batch, features]
            INDArray perSequenceSquares = xd.mul(xd).sum(1);
            INDArray within1 = perSequenceSquares.sub(perSequence.mul(perSequence).divi(seqLen)).sum(0);
            add(sum, perSequence.sum(0));
            add(sumSquares, perSequenceSquares.sum(0));
            add(within, within1);
        }

        private static void add(double[] to, INDArray v) {
            double[] d = v.toDoubleVector();
            for (int j = 0; j < to.length; j++) {
                to[j] += d[j];
            }
        }

        private void addGram(INDArray x) {
            int rows = (int) x.rows();
            Optional<NativeBlas.Lapack> blas = NativeBlas.lapack();
            if (blas.isPresent() && Fused.enabled()) {
                INDArray xf = NativeBlas.isWholeRowMajor(x, DataType.FLOAT) ? x : x.castTo(DataType.FLOAT).dup('c');
                if (gramFloat == null) {
                    gramFloat = Nd4j.zeros(DataType.FLOAT, features, features);
                }
                blas.get().gramLower(rows, features, xf.data().address(), gramFloat.data().address());
                java.lang.ref.Reference.reachabilityFence(xf); // its memory was handed over by address
                Fused.addLowerTrianglePacked(gramFloat, gram);
                return;
            }
            INDArray xf = x.castTo(DataType.FLOAT);
            double[] g = xf.transpose().mmul(xf).dup('c').data().asDouble();
            for (int i = 0; i < features; i++) {
                for (int j = 0; j <= i; j++) {
                    gram[packed(i, j)] += g[i * features + j];
                }
            }
        }

        /** The sums so far; the accumulator is done with. */
        public FeatureStats finish() {
            close();
            return new FeatureStats(sequences, tokens, sum, sumSquares, within, gram);
        }

        /** Frees the float32 Gram buffer. */
        @Override
        public void close() {
            if (gramFloat != null) {
                gramFloat.close();
                gramFloat = null;
            }
        }
    }

    public int features() {
        return sum.length;
    }

    /** The sum of two partial statistics of the same input. */
    public FeatureStats plus(FeatureStats o) {
        if (o.features() != features()) {
            throw new IllegalArgumentException(o.features() + " features added to " + features());
        }
        double[] s = sum.clone();
        double[] q = sumSquares.clone();
        double[] v = withinSequence.clone();
        for (int j = 0; j < s.length; j++) {
            s[j] += o.sum[j];
            q[j] += o.sumSquares[j];
            v[j] += o.withinSequence[j];
        }
        double[] g = null;
        if (gram != null && o.gram != null) {
            g = gram.clone();
            for (int i = 0; i < g.length; i++) {
                g[i] += o.gram[i];
            }
        } else if (gram != null || o.gram != null) {
            throw new IllegalArgumentException("statistics with a Gram matrix added to statistics without one");
        }
        return new FeatureStats(sequences + o.sequences, tokens + o.tokens, s, q, v, g);
    }

    /** SparseGPT's Hessian H = (2 / N_seq)·G as [features, features] doubles (docs/algorithms.md §5.1). */
    public INDArray hessian() {
        if (gram == null) {
            throw new IllegalStateException("these statistics were collected without the Gram matrix");
        }
        int d = features();
        double scale = 2.0 / sequences;
        double[] row = new double[d];
        INDArray h = Nd4j.createUninitialized(DataType.DOUBLE, d, d);
        for (int i = 0; i < d; i++) { // row i: G_ij = G_ji, read from row j of the triangle for j > i
            for (int j = 0; j < d; j++) {
                row[j] = scale * gram[j <= i ? packed(i, j) : packed(j, i)];
            }
            h.putRow(i, Nd4j.createFromArray(row));
        }
        return h;
    }

    /** G_ij (either order). */
    public double gramAt(int i, int j) {
        return gram[i >= j ? packed(i, j) : packed(j, i)];
    }

    /** Where G_ij, j ≤ i, lies in the packed triangle. */
    static int packed(int i, int j) {
        return Math.toIntExact((long) i * (i + 1) / 2 + j);
    }

    /** Wanda's scaler_row: Q_j / N_seq (the reference's running mean over sequences). */
    public INDArray meanSquarePerSequence() {
        return Nd4j.createFromArray(sumSquares).divi(sequences);
    }

    /** DSnoT's sum_metric_row: S_j / N_seq (token-summed per sequence, averaged over sequences). */
    public INDArray sumPerSequence() {
        return Nd4j.createFromArray(sum).divi(sequences);
    }

    /** DSnoT's var_j: V_j / N_tok, the token-weighted mean of per-sequence variances. */
    public INDArray variance() {
        return Nd4j.createFromArray(withinSequence).divi(tokens);
    }
}
