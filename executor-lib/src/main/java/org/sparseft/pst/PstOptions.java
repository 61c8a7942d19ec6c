package org.sparseft.pst;

import org.sparseft.InvalidSettingException;
import org.sparseft.sparsity.SparsityPattern;

import java.util.List;

/**
 * PST's settings (docs/algorithms.md §7.1, §7.3), defaults as the reference's argparse: ranks 8, α1 = α2 = β = 1, cubic
 * schedule from 0 with warm-ups of 10% (initial) and 30% (final) of the steps.
 *
 * @param target unstructured: the final sparsity, reached along the cubic schedule, pruned over the whole matrix;
 *               N:M: the pattern, applied from the first step (N:M has no partial form to schedule)
 * @param weightRank r_w of the weight update W' = W + β·U·V (0: no update, only the mask is learned)
 * @param maskRank r_m of the importance term A·B
 * @param blockSparsity each decoder block's final sparsity (OWL's allocation, averaging to the target), in block
 *                      order; empty for the target everywhere
 */
public record PstOptions(SparsityPattern target, int weightRank, int maskRank, double alpha1, double alpha2,
                         double beta, double initialWarmup, double finalWarmup, List<Double> blockSparsity)
        implements java.io.Serializable {
    /** The same target in every block. */
    public PstOptions(SparsityPattern target, int weightRank, int maskRank, double alpha1, double alpha2, double beta,
                      double initialWarmup, double finalWarmup) {
        this(target, weightRank, maskRank, alpha1, alpha2, beta, initialWarmup, finalWarmup, List.of());
    }

    public PstOptions {
        blockSparsity = List.copyOf(blockSparsity);
        if (!blockSparsity.isEmpty() && !(target instanceof SparsityPattern.Unstructured)) {
            throw new IllegalArgumentException("per-block sparsities need an unstructured target, not " + target);
        }
        if (weightRank < 0 || maskRank < 1) {
            throw new InvalidSettingException("{pst-weight-rank} must be at least 0 and {pst-mask-rank} at least 1"
                    + " (got " + weightRank + ", " + maskRank + ")");
        }
        if (!(initialWarmup >= 0 && finalWarmup >= 0 && initialWarmup + finalWarmup < 1)) {
            throw new InvalidSettingException("{pst-initial-warmup} " + initialWarmup + " and {pst-final-warmup} "
                    + finalWarmup + ": expected fractions of the steps adding up to less than 1");
        }
    }

    /** These settings with each block's final sparsity given (OWL). */
    public PstOptions withBlockSparsity(double[] sparsities) {
        return new PstOptions(target, weightRank, maskRank, alpha1, alpha2, beta, initialWarmup, finalWarmup,
                java.util.Arrays.stream(sparsities).boxed().toList());
    }

    /**
     * The sparsity of block {@code layer}'s linears when the model-wide schedule is at {@code scheduled}: the block's
     * share of the target along the same schedule (so {@code blockSparsity[layer]} at the end), or {@code scheduled}
     * without per-block sparsities.
     */
    public double sparsityOfBlock(long layer, double scheduled) {
        if (blockSparsity.isEmpty() || target.ratio() == 0) {
            return scheduled;
        }
        return scheduled * blockSparsity.get((int) layer) / target.ratio();
    }

    public static PstOptions defaults(SparsityPattern target) {
        return new PstOptions(target, 8, 8, 1, 1, 1, 0.1, 0.3);
    }

    /**
     * The sparsity at optimizer step {@code step} (0-based, before the update) of {@code total}: 0 through the initial
     * warm-up, the cubic ramp s_f·(1 − (1 − progress)³), then the target for the final warm-up
     * (docs/algorithms.md §7.3).
     */
    public double sparsityAt(int step, int total) {
        if (target.groupSize().isPresent()) { // N:M has no partial form to schedule
            return target.ratio();
        }
        double sf = target.ratio();
        double start = initialWarmup * total;
        double end = total - finalWarmup * total;
        if (step <= start) {
            return 0;
        }
        if (step > end) {
            return sf;
        }
        double progress = (step - start) / (end - start);
        return sf * (1 - Math.pow(1 - progress, 3));
    }
}
