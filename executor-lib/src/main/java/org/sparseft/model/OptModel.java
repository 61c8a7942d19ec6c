package org.sparseft.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.model.ops.Activations;
import org.sparseft.model.ops.Attention;
import org.sparseft.model.ops.Embedding;
import org.sparseft.model.ops.Linear;
import org.sparseft.model.ops.Norms;

/**
 * OPT: learned positions at offset 2, LayerNorm before each sub-layer (or after it, OPT-350m), separate q/k/v/out
 * projections, ReLU MLP ({@code fc1}, {@code fc2}), biases everywhere, optional {@code project_in}/{@code project_out}
 * between the embedding width and the hidden size.
 */
public final class OptModel extends DecoderModel {
    private static final String D = "model.decoder.";
    private final OptConfig cfg;

    OptModel(Parameters params, OptConfig cfg) {
        super(params);
        this.cfg = cfg;
    }

    private record Saved(Norms.Saved norm1, INDArray attnIn, Attention.Saved attention, INDArray attended,
                         Norms.Saved norm2, INDArray mlpIn, INDArray fc1, INDArray act) {
    }

    private record FinalSaved(Norms.Saved norm, INDArray projectIn) {
    }

    private static String p(int layer) {
        return D + "layers." + layer + ".";
    }

    @Override
    protected String embeddingName() {
        return D + "embed_tokens.weight";
    }

    @Override
    protected String headName() {
        return cfg.tieWordEmbeddings() ? embeddingName() : "lm_head.weight";
    }

    private int[] positionRows(Context ctx) {
        int[] p = positions(ctx);
        for (int i = 0; i < p.length; i++) {
            p[i] += OptConfig.POSITION_OFFSET;
        }
        return p;
    }

    @Override
    protected INDArray embed(int[] tokens, Context ctx) {
        INDArray e = super.embed(tokens, ctx);
        if (cfg.projected()) {
            e = Linear.forward(e, params.get(D + "project_in.weight"), null);
        }
        return e.addi(Embedding.forward(params.get(D + "embed_positions.weight"), positionRows(ctx)));
    }

    @Override
    protected void embedBackward(int[] tokens, INDArray dx, Context ctx, Gradients grads) {
        Embedding.backward(positionRows(ctx), dx, grads.buffer(D + "embed_positions.weight"));
        INDArray dEmbedded = dx;
        if (cfg.projected()) {
            INDArray e = super.embed(tokens, ctx);
            dEmbedded = Linear.backward(e, params.get(D + "project_in.weight"), dx,
                    grads.buffer(D + "project_in.weight"), null);
        }
        super.embedBackward(tokens, dEmbedded, ctx, grads);
    }

    private Attention.Shape shape(Context ctx) {
        return new Attention.Shape(ctx.batch(), ctx.seqLen(), cfg.numHeads(), cfg.numHeads(), cfg.headDim());
    }

    private INDArray norm(INDArray x, String name, Norms.Saved[] saved) {
        return Norms.layerNorm(x, params.get(name + ".weight"), params.get(name + ".bias"), OptConfig.LAYER_NORM_EPS,
                saved);
    }

    private INDArray normBackward(INDArray dy, String name, Norms.Saved saved, Gradients grads) {
        return Norms.layerNormBackward(dy, params.get(name + ".weight"), saved, grads.buffer(name + ".weight"),
                grads.buffer(name + ".bias"));
    }

    @Override
    protected INDArray block(int layer, INDArray x, Context ctx, Object[] saved) {
        String p = p(layer);
        boolean pre = cfg.layerNormBefore();
        Norms.Saved[] n1 = new Norms.Saved[1];
        INDArray attnIn = pre ? norm(x, p + "self_attn_layer_norm", n1) : x;
        INDArray q = linear(ctx, attnIn, p + "self_attn.q_proj");
        INDArray k = linear(ctx, attnIn, p + "self_attn.k_proj");
        INDArray v = linear(ctx, attnIn, p + "self_attn.v_proj");
        Attention.Saved[] att = saved == null ? null : new Attention.Saved[1];
        INDArray attended = Attention.forward(q, k, v, shape(ctx), null, att);
        INDArray x2 = linear(ctx, attended, p + "self_attn.out_proj").addi(x);
        if (!pre) {
            x2 = norm(x2, p + "self_attn_layer_norm", n1);
        }
        Norms.Saved[] n2 = new Norms.Saved[1];
        INDArray mlpIn = pre ? norm(x2, p + "final_layer_norm", n2) : x2;
        INDArray fc1 = linear(ctx, mlpIn, p + "fc1");
        INDArray act = Activations.relu(fc1);
        INDArray out = linear(ctx, act, p + "fc2").addi(x2);
        if (!pre) {
            out = norm(out, p + "final_layer_norm", n2);
        }
        if (saved != null) {
            saved[0] = new Saved(n1[0], attnIn, att[0], attended, n2[0], mlpIn, fc1, act);
        }
        return out;
    }

    @Override
    protected INDArray blockBackward(int layer, INDArray dOut, Context ctx, Object state, Gradients grads) {
        Saved s = (Saved) state;
        String p = p(layer);
        boolean pre = cfg.layerNormBefore();
        INDArray dY2 = pre ? dOut : normBackward(dOut, p + "final_layer_norm", s.norm2(), grads);
        INDArray dAct = linearBackward(ctx, s.act(), dY2, p + "fc2", grads);
        INDArray dMlpIn = linearBackward(ctx, s.mlpIn(), Activations.reluBackward(s.fc1(), dAct), p + "fc1", grads);
        INDArray dX2 = pre ? normBackward(dMlpIn, p + "final_layer_norm", s.norm2(), grads).addi(dY2)
                : dMlpIn.addi(dY2);
        INDArray dY1 = pre ? dX2 : normBackward(dX2, p + "self_attn_layer_norm", s.norm1(), grads);
        INDArray dAttended = linearBackward(ctx, s.attended(), dY1, p + "self_attn.out_proj", grads);
        INDArray[] dQkv = Attention.backward(dAttended, shape(ctx), null, s.attention());
        INDArray dAttnIn = linearBackward(ctx, s.attnIn(), dQkv[0], p + "self_attn.q_proj", grads)
                .addi(linearBackward(ctx, s.attnIn(), dQkv[1], p + "self_attn.k_proj", grads))
                .addi(linearBackward(ctx, s.attnIn(), dQkv[2], p + "self_attn.v_proj", grads));
        INDArray dx = pre ? normBackward(dAttnIn, p + "self_attn_layer_norm", s.norm1(), grads) : dAttnIn;
        return dx.addi(dY1);
    }

    @Override
    protected INDArray finalNorm(INDArray x, Object[] saved) {
        Norms.Saved[] n = new Norms.Saved[1];
        INDArray h = cfg.finalLayerNorm() ? norm(x, D + "final_layer_norm", n) : x;
        INDArray y = cfg.projected() ? Linear.forward(h, params.get(D + "project_out.weight"), null) : h;
        if (saved != null) {
            saved[0] = new FinalSaved(n[0], h);
        }
        return y;
    }

    @Override
    protected INDArray finalNormBackward(INDArray dy, Object saved, Gradients grads) {
        FinalSaved s = (FinalSaved) saved;
        INDArray dh = cfg.projected() ? Linear.backward(s.projectIn(), params.get(D + "project_out.weight"), dy,
                grads.buffer(D + "project_out.weight"), null) : dy;
        return cfg.finalLayerNorm() ? normBackward(dh, D + "final_layer_norm", s.norm(), grads) : dh;
    }
}
