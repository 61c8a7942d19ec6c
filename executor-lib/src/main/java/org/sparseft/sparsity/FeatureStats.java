package org.sparseft.sparsity;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Per-input-feature calibration statistics of one linear's input, in the additive form of ALGORITHMS.md §1.1 and §3.1:
 * sums over the calibration tokens that partitions compute on their own sequences and the driver adds in partition
 * order. Doubles, so the sums do not depend on how tokens were split.
 *
 * @param sequences N_seq
 * @param tokens N_tok
 * @param sum S_j = Σ x_j
 * @param sumSquares Q_j = Σ x_j²
 * @param withinSequence V_j = Σ_s Σ_t (x_{s,t,j} − mean_s(x_j))², i.e. Σ_s T·Var_t: DSnoT's variance numerator,
 *                       computed per sequence, so each partition must hold whole sequences
 */
public record FeatureStats(long sequences, long tokens, double[] sum, double[] sumSquares, double[] withinSequence) {

    public static FeatureStats empty(int features) {
        return new FeatureStats(0, 0, new double[features], new double[features], new double[features]);
    }

    /** The statistics of {@code x} [batch·seqLen, features], sequences row after row. */
    public static FeatureStats of(INDArray x, int batch, int seqLen) {
        long features = x.columns();
        INDArray xd = x.castTo(DataType.DOUBLE);
        INDArray sum = xd.sum(0);
        INDArray sumSq = xd.mul(xd).sum(0);
        INDArray perSequence = xd.reshape('c', batch, seqLen, features).sum(1); // [batch, features]
        INDArray within = sumSq.sub(perSequence.mul(perSequence).sum(0).divi(seqLen));
        return new FeatureStats(batch, (long) batch * seqLen, sum.toDoubleVector(), sumSq.toDoubleVector(),
                within.toDoubleVector());
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
        return new FeatureStats(sequences + o.sequences, tokens + o.tokens, s, q, v);
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
