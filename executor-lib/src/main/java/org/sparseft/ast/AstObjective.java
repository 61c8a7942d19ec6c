package org.sparseft.ast;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.ModelSource;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;
import org.sparseft.train.AdamW;
import org.sparseft.train.Objective;
import org.sparseft.train.TrainStep;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AST as a training objective for one stretch of steps with fixed masks (docs/algorithms.md §8): every parameter of the
 * model trains; prunable weights compute as M ⊙ W (+ S·P with SLoRB) and take the gradient of that effective weight
 * unchanged (the plain straight-through estimator, so pruned weights keep learning and masks can flip); the loss
 * distils the frozen dense teacher's logits, computed on the same micro-batch in the same JVM; and
 * {@link #regularise} adds the annealed decay λ(t)·(1 − M) ⊙ W that pulls pruned weights towards zero.
 *
 * The teacher (the dense input model) may be null when the KL weight is 0; the masks are those in force for these
 * steps.
 */
public final class AstObjective implements Objective {
    private static final long serialVersionUID = 1L;

    private final ModelSource teacher;
    private final AstOptions options;
    private final NmMasks masks;
    private final int totalSteps;
    /** The masks unpacked to float32, made once per instance (per JVM that deserializes it) and kept. */
    private transient Map<String, INDArray> keep;

    public AstObjective(ModelSource teacher, AstOptions options, NmMasks masks, int totalSteps) {
        this.teacher = teacher;
        this.options = options;
        this.masks = masks;
        this.totalSteps = totalSteps;
    }

    public NmMasks masks() {
        return masks;
    }

    @Override
    public double accumulate(Parameters trained, int step, List<int[]> microBatches, int batch, int seqLen,
                             Parameters grads) {
        DecoderModel student = DecoderModel.of(trained);
        DecoderModel dense = options.distillation().klWeight() > 0 ? teacher.get() : null;
        Map<String, INDArray> boost = Workspaces.outside(() -> slorbTerms(trained));
        EffectiveWeights weights = effective(keepMasks(), boost);
        double loss = TrainStep.accumulate(student, weights, microBatches, batch, seqLen, grads, tokens -> {
            int[] targets = DecoderModel.shiftedTargets(tokens, batch, seqLen);
            return options.distillation().loss(dense == null ? null
                    : dense.logits(tokens, batch, seqLen, EffectiveWeights.DENSE), targets);
        });
        if (options.slorbGroup() > 0) {
            Workspaces.outside(() -> {
                for (String w : masks.names()) {
                    Slorb.addGradients(trained, grads, w, grads.get(w));
                }
                return null;
            });
        }
        return loss;
    }

    /** grads[W] += λ(step)·(1 − M) ⊙ W for every masked weight. */
    @Override
    public void regularise(Parameters trained, Parameters grads, int step) {
        double lambda = options.decayAt(step, totalSteps);
        if (lambda == 0) {
            return;
        }
        keepMasks().forEach((w, k) -> { // grads may hold some tensors only (one chunk of sharded training)
            if (grads.names().contains(w)) { // a temporary per weight, in a workspace reused weight after weight
                Workspaces.inStep(AdamW.WORKSPACE,
                        () -> grads.get(w).addi(k.rsub(1.0).muli(trained.get(w)).muli(lambda)));
            }
        });
    }

    /** The weights the model computes with: M ⊙ W (+ S·P) for masked weights, the others as they are. */
    public static EffectiveWeights effective(Map<String, INDArray> keep, Map<String, INDArray> boost) {
        return (name, stored) -> {
            INDArray k = keep.get(name);
            if (k == null) {
                return stored;
            }
            INDArray e = stored.mul(k);
            INDArray b = boost.get(name);
            return b == null ? e : e.addi(b);
        };
    }

    /** Float keep-masks of every masked weight (read-only). */
    public synchronized Map<String, INDArray> keepMasks() {
        if (keep == null) {
            keep = Workspaces.outside(() -> {
                Map<String, INDArray> k = new LinkedHashMap<>();
                for (String w : masks.names()) {
                    k.put(w, masks.keep(w));
                }
                return java.util.Collections.unmodifiableMap(k);
            });
        }
        return keep;
    }

    /** S·P per masked weight with SLoRB, else empty. */
    public Map<String, INDArray> slorbTerms(Parameters trained) {
        Map<String, INDArray> boost = new LinkedHashMap<>();
        if (options.slorbGroup() > 0) {
            for (String w : masks.names()) {
                boost.put(w, Slorb.term(trained, w));
            }
        }
        return boost;
    }
}
