package org.sparseft.model.ops;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastMulOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.sparseft.numerics.Fused;

/**
 * Rotary position embedding in Hugging Face's {@code rotate_half} convention: the head vector's first and second
 * halves form the pairs (x₁ᵢ, x₂ᵢ), rotated by angle t·θ^(−2i/d) at position t:
 * y₁ = x₁·cos − x₂·sin, y₂ = x₂·cos + x₁·sin. The rotation is orthogonal, so the backward pass is the inverse
 * rotation.
 */
public final class Rope {
    private Rope() {
    }

    /**
     * How a checkpoint stretches its rotary frequencies beyond the context it was trained on ({@code rope_scaling}),
     * as Hugging Face computes them: {@code LINEAR} divides every frequency by {@code factor}; {@code LLAMA3}
     * (LLaMA-3.1/3.2) divides the low frequencies (wavelength above original/lowFreqFactor) by {@code factor}, keeps
     * the high ones (wavelength below original/highFreqFactor) and blends in between.
     *
     * @param originalMaxPositions LLAMA3's context length before scaling (0 for the other kinds)
     */
    public record Scaling(Kind kind, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositions) implements java.io.Serializable {
        /** Plain RoPE. */
        public static final Scaling NONE = new Scaling(Kind.NONE, 1, 0, 0, 0);

        public enum Kind { NONE, LINEAR, LLAMA3 }

        public Scaling {
            java.util.Objects.requireNonNull(kind, "kind");
            if (!(factor > 0) || Double.isInfinite(factor)) {
                throw new IllegalArgumentException("rope scaling factor must be positive, was " + factor);
            }
            if (kind == Kind.LLAMA3 && !(lowFreqFactor > 0 && highFreqFactor > lowFreqFactor
                    && originalMaxPositions > 0)) {
                throw new IllegalArgumentException("llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor"
                        + " and original_max_position_embeddings > 0, was " + lowFreqFactor + ", " + highFreqFactor
                        + ", " + originalMaxPositions);
            }
        }

        /** The scaled inverse frequency of each of the d/2 rotary pairs. */
        public double[] inverseFrequencies(int headDim, double theta) {
            int half = headDim / 2;
            double[] f = new double[half];
            for (int i = 0; i < half; i++) {
                double invFreq = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
                f[i] = switch (kind) {
                    case NONE -> invFreq;
                    case LINEAR -> invFreq / factor;
                    case LLAMA3 -> llama3(invFreq);
                };
            }
            return f;
        }

        private double llama3(double invFreq) {
            double wavelength = 2 * Math.PI / invFreq;
            double lowFreqWavelength = originalMaxPositions / lowFreqFactor;
            double highFreqWavelength = originalMaxPositions / highFreqFactor;
            if (wavelength < highFreqWavelength) {
                return invFreq;
            }
            if (wavelength > lowFreqWavelength) {
                return invFreq / factor;
            }
            double smooth = (originalMaxPositions / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
            return (1 - smooth) * invFreq / factor + smooth * invFreq;
        }
    }

    /** cos and sin tables [T, d/2] for positions 0..T−1. */
    public record Tables(INDArray cos, INDArray sin) {
        public static Tables of(int seqLen, int headDim, double theta, DataType dtype) {
            return of(seqLen, headDim, theta, Scaling.NONE, dtype);
        }

        public static Tables of(int seqLen, int headDim, double theta, Scaling scaling, DataType dtype) {
            double[] invFreq = scaling.inverseFrequencies(headDim, theta);
            double[][] c = new double[seqLen][invFreq.length];
            double[][] s = new double[seqLen][invFreq.length];
            for (int i = 0; i < invFreq.length; i++) {
                for (int t = 0; t < seqLen; t++) {
                    c[t][i] = Math.cos(t * invFreq[i]);
                    s[t][i] = Math.sin(t * invFreq[i]);
                }
            }
            return new Tables(Nd4j.createFromArray(c).castTo(dtype), Nd4j.createFromArray(s).castTo(dtype));
        }
    }

    /** Rotates x [BH, T, d]; {@code inverse} rotates back (the backward pass). */
    public static INDArray apply(INDArray x, Tables tables, boolean inverse) {
        if (Fused.accepts(x, tables.cos(), tables.sin())) {
            return Fused.rope(x, tables.cos(), tables.sin(), inverse);
        }
        return applyUnfused(x, tables, inverse);
    }

    private static INDArray applyUnfused(INDArray x, Tables tables, boolean inverse) {
        long half = x.size(2) / 2;
        INDArray x1 = x.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(0, half)).dup('c');
        INDArray x2 = x.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(half, 2 * half)).dup('c');
        INDArray y1 = mul(x1, tables.cos());
        INDArray y2 = mul(x2, tables.cos());
        INDArray x2s = mul(x2, tables.sin());
        INDArray x1s = mul(x1, tables.sin());
        if (inverse) {
            y1.addi(x2s);
            y2.subi(x1s);
        } else {
            y1.subi(x2s);
            y2.addi(x1s);
        }
        return Nd4j.concat(2, y1, y2);
    }

    /** x [BH, T, h] times table [T, h], broadcast over the first dimension. */
    private static INDArray mul(INDArray x, INDArray table) {
        INDArray out = Nd4j.create(x.dataType(), x.shape());
        Nd4j.getExecutioner().exec(new BroadcastMulOp(x, table, out, 1, 2));
        return out;
    }
}
