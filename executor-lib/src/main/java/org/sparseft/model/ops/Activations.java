package org.sparseft.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.sparseft.numerics.Fused;

/** GELU (tanh form, GPT-2's {@code gelu_new}), SwiGLU (LLaMA's {@code silu(gate) · up}) and ReLU (OPT's). */
public final class Activations {
    private static final double C = Math.sqrt(2.0 / Math.PI);
    private static final double A = 0.044715;

    private Activations() {
    }

    /** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
    public static INDArray gelu(INDArray x) {
        return Fused.accepts(x) ? Fused.gelu(x) : geluUnfused(x);
    }

    private static INDArray geluUnfused(INDArray x) {
        INDArray t = tanhArgument(x);
        return t.addi(1.0).muli(x).muli(0.5);
    }

    private static INDArray tanhArgument(INDArray x) {
        INDArray u = x.mul(x).muli(A).addi(1.0).muli(x).muli(C);
        return Transforms.tanh(u, false);
    }

    /** dx = dy · (0.5(1 + t) + 0.5·x·(1 − t²)·√(2/π)(1 + 3·0.044715·x²)), t = tanh(...), from the saved input. */
    public static INDArray geluBackward(INDArray x, INDArray dy) {
        return Fused.accepts(x, dy) ? Fused.geluBackward(x, dy) : geluBackwardUnfused(x, dy);
    }

    private static INDArray geluBackwardUnfused(INDArray x, INDArray dy) {
        INDArray t = tanhArgument(x);
        INDArray x2 = x.mul(x);
        INDArray inner = x2.muli(3 * A).addi(1.0).muli(C);                     // √(2/π)(1 + 3a·x²)
        INDArray sech2 = t.mul(t).rsubi(1.0);                                 // 1 − t²
        INDArray d = sech2.muli(inner).muli(x).muli(0.5).addi(t.addi(1.0).muli(0.5));
        return d.muli(dy);
    }

    /** max(x, 0). */
    public static INDArray relu(INDArray x) {
        return Transforms.relu(x, true);
    }

    /** dx = dy where the saved input was positive, 0 elsewhere. */
    public static INDArray reluBackward(INDArray x, INDArray dy) {
        return x.gt(0).castTo(x.dataType()).muli(dy);
    }

    /** silu(gate) · up. */
    public static INDArray swiglu(INDArray gate, INDArray up) {
        return Fused.accepts(gate, up) ? Fused.swiglu(gate, up) : swigluUnfused(gate, up);
    }

    private static INDArray swigluUnfused(INDArray gate, INDArray up) {
        return Transforms.sigmoid(gate, true).muli(gate).muli(up);
    }

    /** Returns {dgate, dup}: dup = dh·silu(g); dgate = dh·up·σ(g)(1 + g(1 − σ(g))). */
    public static INDArray[] swigluBackward(INDArray gate, INDArray up, INDArray dh) {
        return Fused.accepts(gate, up, dh) ? Fused.swigluBackward(gate, up, dh) : swigluBackwardUnfused(gate, up, dh);
    }

    private static INDArray[] swigluBackwardUnfused(INDArray gate, INDArray up, INDArray dh) {
        INDArray sig = Transforms.sigmoid(gate, true);
        INDArray dUp = sig.mul(gate).muli(dh);
        INDArray dSilu = sig.rsub(1.0).muli(gate).addi(1.0).muli(sig);         // σ(1 + g(1 − σ))
        INDArray dGate = dSilu.muli(up).muli(dh);
        return new INDArray[] {dGate, dUp};
    }
}
