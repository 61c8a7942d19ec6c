package org.sparseft.model.ops;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastAddOp;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.numerics.Workspaces;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Causal multi-head self-attention with grouped-query sharing: query head h reads key/value head h / (H / KV), as
 * Hugging Face's {@code repeat_kv} does. Optional rotary embedding of queries and keys. Inputs and output are
 * [N, heads · headDim] with N = batch · seqLen; all heads run in one batched product.
 */
public final class Attention {
    /** Added to scores above the diagonal: exp(−10⁹) is exactly 0 in float32 and float64. */
    private static final double MASKED = -1e9;
    private static final Map<String, INDArray> MASKS = new ConcurrentHashMap<>();

    private Attention() {
    }

    /**
     * @param window sliding-window attention: query i sees keys i − window < j ≤ i, as transformers' masks do
     *               (Mistral, Qwen's upper layers); 0 for plain causal attention
     */
    public record Shape(int batch, int seqLen, int heads, int kvHeads, int headDim, int window) {
        public Shape {
            if (heads % kvHeads != 0) {
                throw new IllegalArgumentException("heads " + heads + " not a multiple of kvHeads " + kvHeads);
            }
            if (window < 0) {
                throw new IllegalArgumentException("window " + window);
            }
        }

        /** Plain causal attention. */
        public Shape(int batch, int seqLen, int heads, int kvHeads, int headDim) {
            this(batch, seqLen, heads, kvHeads, headDim, 0);
        }

        int group() {
            return heads / kvHeads;
        }
    }

    /** Per-head tensors kept for the backward pass. */
    public record Saved(INDArray q, INDArray kExpanded, INDArray vExpanded, INDArray probs) {
    }

    /**
     * @param rope rotary tables for seqLen positions, or null (GPT-2)
     * @param saved receives the state the backward pass needs; null when only the forward is wanted
     */
    public static INDArray forward(INDArray q, INDArray k, INDArray v, Shape s, Rope.Tables rope, Saved[] saved) {
        INDArray qh = toHeads(q, s, s.heads());
        INDArray kh = toHeads(k, s, s.kvHeads());
        if (rope != null) {
            qh = Rope.apply(qh, rope, false);
            kh = Rope.apply(kh, rope, false);
        }
        INDArray kx = expand(kh, s);
        INDArray vx = expand(toHeads(v, s, s.kvHeads()), s);
        INDArray scores = Nd4j.create(q.dataType(), (long) s.batch() * s.heads(), s.seqLen(), s.seqLen());
        Nd4j.matmul(qh, kx, scores, false, true, false);
        scores.muli(1.0 / Math.sqrt(s.headDim()));
        Nd4j.getExecutioner().exec(new BroadcastAddOp(scores, mask(s.seqLen(), s.window(), q.dataType()), scores, 1,
                2));
        INDArray probs = Nd4j.create(q.dataType(), scores.shape());
        Nd4j.exec(new SoftMax(scores, probs, 2));
        INDArray out = Nd4j.create(q.dataType(), qh.shape());
        Nd4j.matmul(probs, vx, out, false, false, false);
        if (saved != null) {
            saved[0] = new Saved(qh, kx, vx, probs);
        }
        return fromHeads(out, s, s.heads());
    }

    /** Returns {dq, dk, dv} in the input layouts. */
    public static INDArray[] backward(INDArray dOut, Shape s, Rope.Tables rope, Saved saved) {
        INDArray dO = toHeads(dOut, s, s.heads());
        INDArray p = saved.probs();
        INDArray dP = Nd4j.create(dOut.dataType(), p.shape());
        Nd4j.matmul(dO, saved.vExpanded(), dP, false, true, false);
        INDArray dVx = Nd4j.create(dOut.dataType(), dO.shape());
        Nd4j.matmul(p, dO, dVx, true, false, false);
        // softmax: dS = P ⊙ (dP − Σⱼ dPⱼ·Pⱼ); the masked entries have P = 0 and get no gradient
        INDArray rowDot = dP.mul(p).sum(true, 2);
        INDArray dS = dP.subi(rowDot).muli(p).muli(1.0 / Math.sqrt(s.headDim()));
        INDArray dQ = Nd4j.create(dOut.dataType(), dO.shape());
        Nd4j.matmul(dS, saved.kExpanded(), dQ, false, false, false);
        INDArray dKx = Nd4j.create(dOut.dataType(), dO.shape());
        Nd4j.matmul(dS, saved.q(), dKx, true, false, false);
        INDArray dK = reduce(dKx, s);
        INDArray dV = reduce(dVx, s);
        if (rope != null) {
            dQ = Rope.apply(dQ, rope, true);
            dK = Rope.apply(dK, rope, true);
        }
        return new INDArray[] {fromHeads(dQ, s, s.heads()), fromHeads(dK, s, s.kvHeads()), fromHeads(dV, s, s.kvHeads())};
    }

    /** [N, h·d] to [B·h, T, d]. */
    static INDArray toHeads(INDArray x, Shape s, int heads) {
        return x.dup('c').reshape('c', s.batch(), s.seqLen(), heads, s.headDim()).permute(0, 2, 1, 3).dup('c')
                .reshape('c', (long) s.batch() * heads, s.seqLen(), s.headDim());
    }

    /** [B·h, T, d] to [N, h·d]. */
    static INDArray fromHeads(INDArray x, Shape s, int heads) {
        return x.reshape('c', s.batch(), heads, s.seqLen(), s.headDim()).permute(0, 2, 1, 3).dup('c')
                .reshape('c', (long) s.batch() * s.seqLen(), (long) heads * s.headDim());
    }

    /** Key/value heads [B·KV, T, d] repeated for their query heads: [B·H, T, d]. */
    private static INDArray expand(INDArray kv, Shape s) {
        if (s.group() == 1) {
            return kv;
        }
        return kv.reshape('c', s.batch(), s.kvHeads(), 1, s.seqLen(), s.headDim()).repeat(2, s.group()).dup('c')
                .reshape('c', (long) s.batch() * s.heads(), s.seqLen(), s.headDim());
    }

    /** The transpose of {@link #expand}: sums the gradients of the query heads sharing a key/value head. */
    private static INDArray reduce(INDArray expanded, Shape s) {
        if (s.group() == 1) {
            return expanded;
        }
        return expanded.reshape('c', s.batch(), s.kvHeads(), s.group(), s.seqLen(), s.headDim()).sum(2)
                .reshape('c', (long) s.batch() * s.kvHeads(), s.seqLen(), s.headDim());
    }

    /**
     * [T, T]: 0 where query i sees key j (j ≤ i, and i − j below the window when there is one), a large negative
     * number elsewhere.
     */
    static INDArray mask(int seqLen, int window, DataType dtype) {
        return MASKS.computeIfAbsent(seqLen + "/" + window + "/" + dtype, key -> Workspaces.outside(() -> {
            double[][] m = new double[seqLen][seqLen];
            for (int i = 0; i < seqLen; i++) {
                for (int j = 0; j < seqLen; j++) {
                    if (j > i || (window > 0 && i - j >= window)) {
                        m[i][j] = MASKED;
                    }
                }
            }
            return Nd4j.createFromArray(m).castTo(dtype);
        }));
    }
}
