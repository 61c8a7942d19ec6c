package org.sparseft.model.ops;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastAddOp;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.numerics.Fused;
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

    /**
     * Per-head tensors kept for the backward pass: queries [B·H, T, d], keys and values [B·KV, T, d], probabilities
     * [B·H, T, T].
     */
    public record Saved(INDArray q, INDArray k, INDArray v, INDArray probs) {
    }

    /*
     * Grouped-query attention without repeating keys and values: query head h = kv·G + g, so the G query heads that
     * share key/value head kv lie next to each other in [B·H, T, d], which is [B·KV, G·T, d] in the same memory. One
     * batched product per key/value head then covers its whole group, and in the backward pass the sum over the
     * group's heads happens inside the products for dK and dV.
     */

    /**
     * @param rope rotary tables for seqLen positions, or null (GPT-2)
     * @param saved receives the state the backward pass needs; null when only the forward is wanted
     */
    public static INDArray forward(INDArray q, INDArray k, INDArray v, Shape s, Rope.Tables rope, Saved[] saved) {
        INDArray qh = toHeads(q, s, s.heads());
        INDArray kh = toHeads(k, s, s.kvHeads());
        INDArray vh = toHeads(v, s, s.kvHeads());
        if (rope != null) {
            qh = Rope.apply(qh, rope, false);
            kh = Rope.apply(kh, rope, false);
        }
        INDArray scores = Nd4j.create(q.dataType(), (long) s.batch() * s.heads(), s.seqLen(), s.seqLen());
        Nd4j.matmul(grouped(qh, s), kh, grouped(scores, s), false, true, false);
        INDArray probs = Fused.accepts(scores) ? Fused.causalSoftmaxInPlace(scores, s.window(), scale(s))
                : probabilities(scores, s);
        INDArray out = Nd4j.create(q.dataType(), qh.shape());
        Nd4j.matmul(grouped(probs, s), vh, grouped(out, s), false, false, false);
        if (saved != null) {
            saved[0] = new Saved(qh, kh, vh, probs);
        }
        return fromHeads(out, s, s.heads());
    }

    /** Returns {dq, dk, dv} in the input layouts. */
    public static INDArray[] backward(INDArray dOut, Shape s, Rope.Tables rope, Saved saved) {
        INDArray dO = grouped(toHeads(dOut, s, s.heads()), s);
        INDArray p = saved.probs();
        INDArray dP = Nd4j.create(dOut.dataType(), p.shape());
        Nd4j.matmul(dO, saved.v(), grouped(dP, s), false, true, false);
        INDArray dV = Nd4j.create(dOut.dataType(), saved.v().shape());
        Nd4j.matmul(grouped(p, s), dO, dV, true, false, false);
        // softmax: dS = P ⊙ (dP − Σⱼ dPⱼ·Pⱼ); the masked entries have P = 0 and get no gradient
        INDArray dS;
        if (Fused.accepts(dP, p)) {
            dS = Fused.softmaxBackwardInPlace(dP, p, scale(s));
        } else {
            INDArray rowDot = dP.mul(p).sum(true, 2);
            dS = dP.subi(rowDot).muli(p).muli(scale(s));
        }
        INDArray dQ = Nd4j.create(dOut.dataType(), saved.q().shape());
        Nd4j.matmul(grouped(dS, s), saved.k(), grouped(dQ, s), false, false, false);
        INDArray dK = Nd4j.create(dOut.dataType(), saved.k().shape());
        Nd4j.matmul(grouped(dS, s), grouped(saved.q(), s), dK, true, false, false);
        if (rope != null) {
            dQ = Rope.apply(dQ, rope, true);
            dK = Rope.apply(dK, rope, true);
        }
        return new INDArray[] {fromHeads(dQ, s, s.heads()), fromHeads(dK, s, s.kvHeads()),
                fromHeads(dV, s, s.kvHeads())};
    }

    /** [B·H, T, x] seen as [B·KV, G·T, x], the same memory. */
    private static INDArray grouped(INDArray perHead, Shape s) {
        return perHead.reshape('c', (long) s.batch() * s.kvHeads(), (long) s.group() * s.seqLen(), perHead.size(2));
    }

    private static double scale(Shape s) {
        return 1.0 / Math.sqrt(s.headDim());
    }

    /** The unfused softmax of the scaled, masked scores (a new array). */
    private static INDArray probabilities(INDArray scores, Shape s) {
        scores.muli(scale(s));
        Nd4j.getExecutioner().exec(new BroadcastAddOp(scores, mask(s.seqLen(), s.window(), scores.dataType()), scores,
                1, 2));
        INDArray probs = Nd4j.create(scores.dataType(), scores.shape());
        Nd4j.exec(new SoftMax(scores, probs, 2));
        return probs;
    }

    /** [N, h·d] to [B·h, T, d]. */
    static INDArray toHeads(INDArray x, Shape s, int heads) {
        INDArray rows = x.ordering() == 'c' && !x.isView() ? x : x.dup('c');
        return rows.reshape('c', s.batch(), s.seqLen(), heads, s.headDim()).permute(0, 2, 1, 3).dup('c')
                .reshape('c', (long) s.batch() * heads, s.seqLen(), s.headDim());
    }

    /** [B·h, T, d] to [N, h·d]. */
    static INDArray fromHeads(INDArray x, Shape s, int heads) {
        return x.reshape('c', s.batch(), heads, s.seqLen(), s.headDim()).permute(0, 2, 1, 3).dup('c')
                .reshape('c', (long) s.batch() * s.seqLen(), (long) heads * s.headDim());
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
