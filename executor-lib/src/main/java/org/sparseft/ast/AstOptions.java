package org.sparseft.ast;

import org.sparseft.InvalidSettingException;
import org.sparseft.sparsity.SparsityPattern;

import java.io.Serializable;

/**
 * AST's settings (docs/algorithms.md §8), defaults from the reference's GPT-2 path.
 *
 * @param pattern the N:M pattern masks keep (2:4)
 * @param reselectEvery optimizer steps between magnitude re-selections of the masks (10); 0 keeps the initial masks
 *                      (the reference's fixed-mask "naive retraining")
 * @param decayMax λ_max of the annealed SR-STE decay λ(t)·(1 − M) ⊙ W added to the pruned weights' gradient (6e-5)
 * @param decayRamp the fraction of the run over which λ rises linearly from 0 to λ_max (the reference: 10,000 of
 *                  40,000 steps, 0.25)
 * @param distillation the task/KL loss weights and temperature
 * @param slorbGroup SLoRB's group size k (0: no SLoRB)
 */
public record AstOptions(SparsityPattern.NOutOfM pattern, int reselectEvery, double decayMax, double decayRamp,
                         Distillation distillation, int slorbGroup) implements Serializable {
    public AstOptions {
        if (reselectEvery < 0) {
            throw InvalidSettingException.of("ast-reselect-every", reselectEvery, "expected at least 0 (0: fixed"
                    + " masks)");
        }
        if (!(decayMax >= 0) || !(decayRamp >= 0 && decayRamp <= 1)) {
            throw new InvalidSettingException("{ast-decay} " + decayMax + " must be non-negative and {ast-decay-ramp} "
                    + decayRamp + " a fraction in [0, 1]");
        }
        if (slorbGroup < 0 || slorbGroup == 1) {
            throw InvalidSettingException.of("ast-slorb-group", slorbGroup, "expected 0 (off) or at least 2");
        }
    }

    /** λ(t) at 0-based step {@code step} of {@code totalSteps}: a linear ramp from 0, then λ_max. */
    public double decayAt(int step, int totalSteps) {
        double ramp = decayRamp * totalSteps;
        return step >= ramp ? decayMax : decayMax * step / ramp;
    }

    /** Whether the masks are re-selected after {@code stepsDone} steps (having been at {@code stepsBefore}). */
    public boolean reselectAfter(int stepsBefore, int stepsDone) {
        return reselectEvery > 0 && stepsDone / reselectEvery > stepsBefore / reselectEvery;
    }
}
