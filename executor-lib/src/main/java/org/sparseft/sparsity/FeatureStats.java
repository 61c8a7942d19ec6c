package org.sparseft.sparsity;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Per-input-feature calibration statistics of one linear's input, in the additive form of docs/algorithms.md §2.3:
 * sums over the calibration tokens that partitions compute on their own sequences and the driver adds in partition
 * order. Doubles, so the per-feature sums do not depend on how tokens were split; the Gram matrix is a float32 GEMM
 * per call summed in doubles, so it (and SparseGPT's result) depends, in the last bits, on the calls' split
 * (--calib-batch, --partitions), though never on scheduling.
 *
 * @param sequences N_seq
 * @param tokens N_tok
 * @param sum S_j = Σ x_j
 * @param sumSquares Q_j = Σ x_j²
 * @param withinSequence V_j = Σ_s Σ_t (x_{s,t,j} − mean_s(x_j))², i.e. Σ_s T·Var_t: DSnoT's variance numerator,
 *                       computed per sequence, so each partition must hold whole sequences
 * @param gram G = Σ x xᵀ, [features, features] row-major, for SparseGPT's Hessian (docs/algorithms.md §5.1); null
 *             when not collected (it is features² doubles, so only SparseGPT asks for it)
 */
public record FeatureStats(long sequences, long tokens, double[] sum, double[] sumSquares, double[] withinSequence,
                           double[] gram) {

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
     * xᵀx (one float32 GEMM per call, summed in doubles across calls, as the reference keeps H in fp32).
     */
    public static FeatureStats of(INDArray x, int batch, int seqLen, boolean withGram) {
        long features = x.columns();
        INDArray xd = x.castTo(DataType.DOUBLE);
        INDArray sum = xd.sum(0);
        INDArray sumSq = xd.mul(xd).sum(0);
        INDArray perSequence = xd.reshape('c', batch, seqLen, features).sum(1); // [batch, features]
        INDArray within = sumSq.sub(perSequence.mul(perSequence).sum(0).divi(seqLen));
        double[] gram = null;
        if (withGram) { // outside any workspace: d² values would otherwise stay in the caller's for its lifetime
            gram = org.sparseft.numerics.Workspaces.outside(() -> {
                INDArray xf = x.castTo(DataType.FLOAT);
                return xf.transpose().mmul(xf).dup('c').data().asDouble();
            });
        }
        return new FeatureStats(batch, (long) batch * seqLen, sum.toDoubleVector(), sumSq.toDoubleVector(),
                within.toDoubleVector(), gram);
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
        return Nd4j.createFromArray(gram).reshape('c', d, d).muli(2.0 / sequences);
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
