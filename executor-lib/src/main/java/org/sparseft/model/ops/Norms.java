package org.sparseft.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.sparseft.numerics.Fused;

/** LayerNorm (GPT-2) and RMSNorm (LLaMA) over the last dimension of [N, d]. */
public final class Norms {
    private Norms() {
    }

    /** What the backward pass needs: the normalised input x̂ and 1/σ per row. */
    public record Saved(INDArray normalized, INDArray inverseStd) {
    }

    /** y = (x − μ)/√(σ² + ε) · γ + β; the saved state goes into {@code saved[0]}. */
    public static INDArray layerNorm(INDArray x, INDArray gamma, INDArray beta, double eps, Saved[] saved) {
        if (Fused.accepts(x, gamma, beta)) {
            INDArray[] r = Fused.layerNorm(x, gamma, beta, eps);
            saved[0] = new Saved(r[1], r[2]);
            return r[0];
        }
        return layerNormUnfused(x, gamma, beta, eps, saved);
    }

    private static INDArray layerNormUnfused(INDArray x, INDArray gamma, INDArray beta, double eps, Saved[] saved) {
        INDArray mean = x.mean(true, 1);
        INDArray xc = x.subColumnVector(mean);
        INDArray var = xc.mul(xc).mean(true, 1);
        INDArray rstd = Transforms.pow(var.addi(eps), -0.5, false);
        INDArray xhat = xc.muliColumnVector(rstd);
        saved[0] = new Saved(xhat, rstd);
        INDArray y = xhat.mulRowVector(gamma);
        return beta == null ? y : y.addiRowVector(beta);
    }

    /**
     * Accumulates dγ, dβ (each skipped when null: a frozen norm) and returns dx = (1/σ)(g − mean(g) − x̂·mean(g·x̂))
     * with g = dy·γ.
     */
    public static INDArray layerNormBackward(INDArray dy, INDArray gamma, Saved s, INDArray dGamma, INDArray dBeta) {
        if (Fused.accepts(dy, gamma, s.normalized(), dGamma, dBeta)) {
            return Fused.normBackward(true, dy, gamma, s.normalized(), s.inverseStd(), dGamma, dBeta);
        }
        return layerNormBackwardUnfused(dy, gamma, s, dGamma, dBeta);
    }

    private static INDArray layerNormBackwardUnfused(INDArray dy, INDArray gamma, Saved s, INDArray dGamma,
                                                     INDArray dBeta) {
        INDArray xhat = s.normalized();
        if (dGamma != null) {
            dGamma.addi(dy.mul(xhat).sum(0));
        }
        if (dBeta != null) {
            dBeta.addi(dy.sum(0));
        }
        INDArray g = dy.mulRowVector(gamma);
        INDArray meanG = g.mean(true, 1);
        INDArray meanGx = g.mul(xhat).mean(true, 1);
        return g.subiColumnVector(meanG).subi(xhat.mulColumnVector(meanGx)).muliColumnVector(s.inverseStd());
    }

    /** y = x / √(mean(x²) + ε) · γ. */
    public static INDArray rmsNorm(INDArray x, INDArray gamma, double eps, Saved[] saved) {
        if (Fused.accepts(x, gamma)) {
            INDArray[] r = Fused.rmsNorm(x, gamma, eps);
            saved[0] = new Saved(r[1], r[2]);
            return r[0];
        }
        return rmsNormUnfused(x, gamma, eps, saved);
    }

    private static INDArray rmsNormUnfused(INDArray x, INDArray gamma, double eps, Saved[] saved) {
        INDArray ms = x.mul(x).mean(true, 1);
        INDArray rstd = Transforms.pow(ms.addi(eps), -0.5, false);
        INDArray xhat = x.mulColumnVector(rstd);
        saved[0] = new Saved(xhat, rstd);
        return xhat.mulRowVector(gamma);
    }

    /** Accumulates dγ (skipped when null) and returns dx = (1/r)(g − x̂·mean(g·x̂)) with g = dy·γ. */
    public static INDArray rmsNormBackward(INDArray dy, INDArray gamma, Saved s, INDArray dGamma) {
        if (Fused.accepts(dy, gamma, s.normalized(), dGamma)) {
            return Fused.normBackward(false, dy, gamma, s.normalized(), s.inverseStd(), dGamma, null);
        }
        return rmsNormBackwardUnfused(dy, gamma, s, dGamma);
    }

    private static INDArray rmsNormBackwardUnfused(INDArray dy, INDArray gamma, Saved s, INDArray dGamma) {
        INDArray xhat = s.normalized();
        if (dGamma != null) {
            dGamma.addi(dy.mul(xhat).sum(0));
        }
        INDArray g = dy.mulRowVector(gamma);
        INDArray meanGx = g.mul(xhat).mean(true, 1);
        return g.subi(xhat.mulColumnVector(meanGx)).muliColumnVector(s.inverseStd());
    }
}
