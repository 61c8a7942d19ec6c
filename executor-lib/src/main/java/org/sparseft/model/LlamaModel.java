package org.sparseft.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.model.ops.Activations;
import org.sparseft.model.ops.Attention;
import org.sparseft.model.ops.Norms;
import org.sparseft.model.ops.Rope;
import org.sparseft.numerics.Workspaces;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The LLaMA layout (LLaMA, Mistral, Qwen2, Qwen3): RMSNorm, rotary positions, grouped-query attention, SwiGLU MLP,
 * tied or separate LM head; Qwen3's per-head query/key norms and sliding windows where the config has them.
 */
public final class LlamaModel extends DecoderModel {
    private final LlamaConfig cfg;
    private final Map<Integer, Rope.Tables> ropeBySeqLen = new ConcurrentHashMap<>();

    LlamaModel(Parameters params, LlamaConfig cfg) {
        super(params);
        this.cfg = cfg;
    }

    private record Saved(Norms.Saved norm1, INDArray h1, Norms.Saved qNorm, Norms.Saved kNorm,
                         Attention.Saved attention, INDArray attended, Norms.Saved norm2, INDArray h2, INDArray gate,
                         INDArray up, INDArray act) {
    }

    private static String p(int layer) {
        return "model.layers." + layer + ".";
    }

    @Override
    protected String embeddingName() {
        return "model.embed_tokens.weight";
    }

    @Override
    protected String headName() {
        return cfg.tieWordEmbeddings() ? embeddingName() : "lm_head.weight";
    }

    private Rope.Tables rope(Context ctx) {
        return ropeBySeqLen.computeIfAbsent(ctx.seqLen(), t -> Workspaces.outside(
                () -> Rope.Tables.of(t, cfg.headDim(), cfg.ropeTheta(), cfg.ropeScaling(), params.dataType())));
    }

    private Attention.Shape shape(Context ctx, int layer) {
        return new Attention.Shape(ctx.batch(), ctx.seqLen(), cfg.numHeads(), cfg.numKvHeads(), cfg.headDim(),
                cfg.slidingWindow(layer));
    }

    /** Qwen3's RMSNorm of each head's vector: [N, heads·d] seen as [N·heads, d]. */
    private INDArray headNorm(INDArray x, String name, Norms.Saved[] saved) {
        INDArray perHead = x.reshape('c', x.length() / cfg.headDim(), cfg.headDim());
        return Norms.rmsNorm(perHead, params.get(name), cfg.rmsNormEps(), saved).reshape('c', x.rows(), x.columns());
    }

    private INDArray headNormBackward(INDArray dy, String name, Norms.Saved saved, Gradients grads) {
        INDArray perHead = dy.dup('c').reshape('c', dy.length() / cfg.headDim(), cfg.headDim());
        return Norms.rmsNormBackward(perHead, params.get(name), saved, grads.buffer(name))
                .reshape('c', dy.rows(), dy.columns());
    }

    @Override
    protected INDArray block(int layer, INDArray x, Context ctx, Object[] saved) {
        String p = p(layer);
        Norms.Saved[] n1 = new Norms.Saved[1];
        INDArray h1 = Norms.rmsNorm(x, params.get(p + "input_layernorm.weight"), cfg.rmsNormEps(), n1);
        INDArray q = linear(ctx, h1, p + "self_attn.q_proj");
        INDArray k = linear(ctx, h1, p + "self_attn.k_proj");
        INDArray v = linear(ctx, h1, p + "self_attn.v_proj");
        Norms.Saved[] qn = new Norms.Saved[1];
        Norms.Saved[] kn = new Norms.Saved[1];
        if (cfg.qkNorm()) {
            q = headNorm(q, p + "self_attn.q_norm.weight", qn);
            k = headNorm(k, p + "self_attn.k_norm.weight", kn);
        }
        Attention.Saved[] att = saved == null ? null : new Attention.Saved[1];
        INDArray attended = Attention.forward(q, k, v, shape(ctx, layer), rope(ctx), att);
        INDArray x2 = linear(ctx, attended, p + "self_attn.o_proj").addi(x);
        Norms.Saved[] n2 = new Norms.Saved[1];
        INDArray h2 = Norms.rmsNorm(x2, params.get(p + "post_attention_layernorm.weight"), cfg.rmsNormEps(), n2);
        INDArray gate = linear(ctx, h2, p + "mlp.gate_proj");
        INDArray up = linear(ctx, h2, p + "mlp.up_proj");
        INDArray act = Activations.swiglu(gate, up);
        INDArray out = linear(ctx, act, p + "mlp.down_proj").addi(x2);
        if (saved != null) {
            saved[0] = new Saved(n1[0], h1, qn[0], kn[0], att[0], attended, n2[0], h2, gate, up, act);
        }
        return out;
    }

    @Override
    protected INDArray blockBackward(int layer, INDArray dOut, Context ctx, Object state, Gradients grads) {
        Saved s = (Saved) state;
        String p = p(layer);
        INDArray dAct = linearBackward(ctx, s.act(), dOut, p + "mlp.down_proj", grads);
        INDArray[] dGateUp = Activations.swigluBackward(s.gate(), s.up(), dAct);
        INDArray dH2 = linearBackward(ctx, s.h2(), dGateUp[0], p + "mlp.gate_proj", grads)
                .addi(linearBackward(ctx, s.h2(), dGateUp[1], p + "mlp.up_proj", grads));
        INDArray dX2 = Norms.rmsNormBackward(dH2, params.get(p + "post_attention_layernorm.weight"), s.norm2(),
                grads.buffer(p + "post_attention_layernorm.weight")).addi(dOut);
        INDArray dAttended = linearBackward(ctx, s.attended(), dX2, p + "self_attn.o_proj", grads);
        INDArray[] dQkv = Attention.backward(dAttended, shape(ctx, layer), rope(ctx), s.attention());
        if (cfg.qkNorm()) {
            dQkv[0] = headNormBackward(dQkv[0], p + "self_attn.q_norm.weight", s.qNorm(), grads);
            dQkv[1] = headNormBackward(dQkv[1], p + "self_attn.k_norm.weight", s.kNorm(), grads);
        }
        INDArray dH1 = linearBackward(ctx, s.h1(), dQkv[0], p + "self_attn.q_proj", grads)
                .addi(linearBackward(ctx, s.h1(), dQkv[1], p + "self_attn.k_proj", grads))
                .addi(linearBackward(ctx, s.h1(), dQkv[2], p + "self_attn.v_proj", grads));
        return Norms.rmsNormBackward(dH1, params.get(p + "input_layernorm.weight"), s.norm1(),
                grads.buffer(p + "input_layernorm.weight")).addi(dX2);
    }

    @Override
    protected INDArray finalNorm(INDArray x, Object[] saved) {
        Norms.Saved[] s = new Norms.Saved[1];
        INDArray y = Norms.rmsNorm(x, params.get("model.norm.weight"), cfg.rmsNormEps(), s);
        if (saved != null) {
            saved[0] = s[0];
        }
        return y;
    }

    @Override
    protected INDArray finalNormBackward(INDArray dy, Object saved, Gradients grads) {
        return Norms.rmsNormBackward(dy, params.get("model.norm.weight"), (Norms.Saved) saved,
                grads.buffer("model.norm.weight"));
    }
}
