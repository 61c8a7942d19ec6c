package org.sparseft.train;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;

import java.util.Set;

/**
 * AdamW as PyTorch defines it: decoupled weight decay (p ← p·(1 − lr·λ)) then the bias-corrected Adam step
 * p ← p − lr·m̂/(√v̂ + ε). Weight decay applies to matrices (rank ≥ 2: linear weights, embeddings) only, not to
 * biases and norm scales, as GPT-style training does.
 */
public final class AdamW {
    /** The workspace an update's (and a regulariser's) temporaries are made in, one tensor at a time. */
    public static final String WORKSPACE = "optimizer";
    public record Options(double beta1, double beta2, double eps, double weightDecay) implements java.io.Serializable {
        public static final Options DEFAULT = new Options(0.9, 0.999, 1e-8, 0.01);
    }

    private final Options options;
    private final Parameters m;
    private final Parameters v;
    private long steps;

    public AdamW(Parameters params, Options options) {
        this.options = options;
        this.m = params.zerosLike();
        this.v = params.zerosLike();
    }

    /** Restores saved state (resume). */
    public AdamW(Options options, Parameters m, Parameters v, long steps) {
        this.options = options;
        this.m = m;
        this.v = v;
        this.steps = steps;
    }

    public long steps() {
        return steps;
    }

    public Parameters firstMoment() {
        return m;
    }

    public Parameters secondMoment() {
        return v;
    }

    /**
     * One update of every parameter in {@code names} from its gradient. Each tensor's temporaries live in this
     * thread's optimizer workspace for that tensor's update only, so the workspace is four times the largest tensor,
     * not four times the model (which a worker kept for the rest of the run).
     */
    public void step(Parameters params, Parameters grads, Set<String> names, double lr) {
        steps++;
        double b1 = options.beta1();
        double b2 = options.beta2();
        double bc1 = 1 - Math.pow(b1, steps);
        double bc2 = 1 - Math.pow(b2, steps);
        for (String name : names) {
            Workspaces.inStep(WORKSPACE, () -> {
                INDArray p = params.get(name);
                INDArray g = grads.get(name);
                INDArray mt = m.get(name).muli(b1).addi(g.mul(1 - b1));
                INDArray vt = v.get(name).muli(b2).addi(g.mul(g).muli(1 - b2));
                if (options.weightDecay() > 0 && p.rank() >= 2) {
                    p.muli(1 - lr * options.weightDecay());
                }
                // m̂/(√v̂ + ε) = (m/bc1) / (√v/√bc2 + ε)
                INDArray denom = Transforms.sqrt(vt, true).divi(Math.sqrt(bc2)).addi(options.eps());
                p.subi(mt.div(denom).muli(lr / bc1));
                return null;
            });
        }
    }

    /** √(Σ‖g‖²) over {@code names}. */
    public static double globalNorm(Parameters grads, Set<String> names) {
        double sum = 0;
        for (String n : names) {
            double norm = grads.get(n).norm2Number().doubleValue();
            sum += norm * norm;
        }
        return Math.sqrt(sum);
    }

    /** Scales gradients so their global norm is at most {@code maxNorm} (as torch's clip_grad_norm_); returns the norm before. */
    public static double clipGlobalNorm(Parameters grads, Set<String> names, double maxNorm) {
        double norm = globalNorm(grads, names);
        if (maxNorm > 0 && norm > maxNorm) {
            double scale = maxNorm / (norm + 1e-6);
            for (String n : names) {
                grads.get(n).muli(scale);
            }
        }
        return norm;
    }
}
