package org.sparseft.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.model.ops.Activations;
import org.sparseft.model.ops.Attention;
import org.sparseft.model.ops.Embedding;
import org.sparseft.model.ops.Linear;
import org.sparseft.model.ops.Norms;

/** GPT-2: learned positions, pre-LayerNorm blocks with fused QKV, GELU (tanh) MLP, LM head tied to wte. */
public final class Gpt2Model extends DecoderModel {
    private final Gpt2Config cfg;

    Gpt2Model(Parameters params, Gpt2Config cfg) {
        super(params);
        this.cfg = cfg;
        if (!cfg.activation().equals("gelu_new") && !cfg.activation().equals("gelu_pytorch_tanh")
                && !cfg.activation().equals("gelu_fast")) {
            throw new org.sparseft.BadInputException("config field 'activation_function': \"" + cfg.activation()
                    + "\" is not implemented yet; the tanh forms (gelu_new, gelu_pytorch_tanh, gelu_fast) are");
        }
    }

    private record Saved(Norms.Saved ln1, INDArray h1, Attention.Saved attention, INDArray attended,
                         Norms.Saved ln2, INDArray h2, INDArray fc, INDArray act) {
    }

    private static String p(int layer) {
        return "transformer.h." + layer + ".";
    }

    @Override
    protected String embeddingName() {
        return "transformer.wte.weight";
    }

    @Override
    protected String headName() {
        return embeddingName();
    }

    @Override
    protected INDArray embed(int[] tokens, Context ctx) {
        return super.embed(tokens, ctx).addi(Embedding.forward(params.get("transformer.wpe.weight"), positions(ctx)));
    }

    @Override
    protected void embedBackward(int[] tokens, INDArray dx, Context ctx, Gradients grads) {
        super.embedBackward(tokens, dx, ctx, grads);
        Embedding.backward(positions(ctx), dx, grads.buffer("transformer.wpe.weight"));
    }

    private Attention.Shape shape(Context ctx) {
        return new Attention.Shape(ctx.batch(), ctx.seqLen(), cfg.numHeads(), cfg.numHeads(), cfg.headDim());
    }

    @Override
    protected INDArray block(int layer, INDArray x, Context ctx, Object[] saved) {
        String p = p(layer);
        int d = cfg.hiddenSize();
        Norms.Saved[] ln1 = new Norms.Saved[1];
        INDArray h1 = Norms.layerNorm(x, params.get(p + "ln_1.weight"), params.get(p + "ln_1.bias"),
                cfg.layerNormEpsilon(), ln1);
        observe(ctx, p + "attn.c_attn.weight", h1);
        INDArray qkv = Linear.forward(h1, weight(ctx, p + "attn.c_attn.weight"), params.get(p + "attn.c_attn.bias"));
        Attention.Saved[] att = saved == null ? null : new Attention.Saved[1];
        INDArray attended = Attention.forward(columns(qkv, 0, d), columns(qkv, d, 2L * d), columns(qkv, 2L * d, 3L * d),
                shape(ctx), null, att);
        observe(ctx, p + "attn.c_proj.weight", attended);
        INDArray x2 = Linear.forward(attended, weight(ctx, p + "attn.c_proj.weight"), params.get(p + "attn.c_proj.bias"))
                .addi(x);
        Norms.Saved[] ln2 = new Norms.Saved[1];
        INDArray h2 = Norms.layerNorm(x2, params.get(p + "ln_2.weight"), params.get(p + "ln_2.bias"),
                cfg.layerNormEpsilon(), ln2);
        observe(ctx, p + "mlp.c_fc.weight", h2);
        INDArray fc = Linear.forward(h2, weight(ctx, p + "mlp.c_fc.weight"), params.get(p + "mlp.c_fc.bias"));
        INDArray act = Activations.gelu(fc);
        observe(ctx, p + "mlp.c_proj.weight", act);
        INDArray out = Linear.forward(act, weight(ctx, p + "mlp.c_proj.weight"), params.get(p + "mlp.c_proj.bias"))
                .addi(x2);
        if (saved != null) {
            saved[0] = new Saved(ln1[0], h1, att[0], attended, ln2[0], h2, fc, act);
        }
        return out;
    }

    @Override
    protected INDArray blockBackward(int layer, INDArray dOut, Context ctx, Object state, Gradients grads) {
        Saved s = (Saved) state;
        String p = p(layer);
        INDArray dAct = linearBackward(ctx, s.act(), dOut, p + "mlp.c_proj", grads);
        INDArray dFc = Activations.geluBackward(s.fc(), dAct);
        INDArray dH2 = linearBackward(ctx, s.h2(), dFc, p + "mlp.c_fc", grads);
        INDArray dX2 = Norms.layerNormBackward(dH2, params.get(p + "ln_2.weight"), s.ln2(),
                grads.buffer(p + "ln_2.weight"), grads.buffer(p + "ln_2.bias")).addi(dOut);
        INDArray dAttended = linearBackward(ctx, s.attended(), dX2, p + "attn.c_proj", grads);
        INDArray[] dQkv = Attention.backward(dAttended, shape(ctx), null, s.attention());
        INDArray dH1 = linearBackward(ctx, s.h1(), concatColumns(dQkv), p + "attn.c_attn", grads);
        return Norms.layerNormBackward(dH1, params.get(p + "ln_1.weight"), s.ln1(), grads.buffer(p + "ln_1.weight"),
                grads.buffer(p + "ln_1.bias")).addi(dX2);
    }

    @Override
    protected INDArray finalNorm(INDArray x, Object[] saved) {
        Norms.Saved[] s = new Norms.Saved[1];
        INDArray y = Norms.layerNorm(x, params.get("transformer.ln_f.weight"), params.get("transformer.ln_f.bias"),
                cfg.layerNormEpsilon(), s);
        if (saved != null) {
            saved[0] = s[0];
        }
        return y;
    }

    @Override
    protected INDArray finalNormBackward(INDArray dy, Object saved, Gradients grads) {
        return Norms.layerNormBackward(dy, params.get("transformer.ln_f.weight"), (Norms.Saved) saved,
                grads.buffer("transformer.ln_f.weight"), grads.buffer("transformer.ln_f.bias"));
    }
}
