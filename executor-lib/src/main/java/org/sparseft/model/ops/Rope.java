package org.sparseft.model.ops;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastMulOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Rotary position embedding in Hugging Face's {@code rotate_half} convention: the head vector's first and second
 * halves form the pairs (x₁ᵢ, x₂ᵢ), rotated by angle t·θ^(−2i/d) at position t:
 * y₁ = x₁·cos − x₂·sin, y₂ = x₂·cos + x₁·sin. The rotation is orthogonal, so the backward pass is the inverse
 * rotation.
 */
public final class Rope {
    private Rope() {
    }

    /** cos and sin tables [T, d/2] for positions 0..T−1. */
    public record Tables(INDArray cos, INDArray sin) {
        public static Tables of(int seqLen, int headDim, double theta, DataType dtype) {
            int half = headDim / 2;
            double[][] c = new double[seqLen][half];
            double[][] s = new double[seqLen][half];
            for (int i = 0; i < half; i++) {
                double invFreq = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
                for (int t = 0; t < seqLen; t++) {
                    c[t][i] = Math.cos(t * invFreq);
                    s[t][i] = Math.sin(t * invFreq);
                }
            }
            return new Tables(Nd4j.createFromArray(c).castTo(dtype), Nd4j.createFromArray(s).castTo(dtype));
        }
    }

    /** Rotates x [BH, T, d]; {@code inverse} rotates back (the backward pass). */
    public static INDArray apply(INDArray x, Tables tables, boolean inverse) {
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
