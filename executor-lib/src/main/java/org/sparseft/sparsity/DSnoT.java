package org.sparseft.sparsity;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.sparseft.InvalidSettingException;
import org.sparseft.numerics.HeapCopy;

import java.util.Locale;

/**
 * DSnoT's training-free prune-and-grow refinement of one linear's mask (docs/algorithms.md §4). Every row keeps its
 * sparsity: each cycle swaps at most one pruned weight in and one kept weight out, steering the row's expected
 * reconstruction error ε (the token-summed output lost to pruning) towards zero, until |ε| is within the threshold,
 * the swap would flip ε's sign (when the sign check is on), or the cycles run out.
 *
 * <p>As in the reference code: unstructured rows take the weight to prune from the kept weights ranked by their
 * Wanda score, whatever criterion chose the initial mask; N:M rows take it from the regrown weight's group, the kept
 * weight with the lowest initial score, where every initially pruned weight counts as +∞, so a weight grown back
 * is never pruned again, and a weight once chosen counts as +∞ from then on, swapped or not.
 *
 * <p>The sorting that ranks candidates is done in bulk (four per-row sorts in ND4J); the cycles then walk the sorted
 * lists row by row, O(rows·cycles). Where a candidate list runs out, or an N:M group has no initially kept weight
 * left to give up (the reference would then pick from the wrong side of its list, or an arbitrary weight of the
 * group and break the pattern; docs/algorithms.md §4.5), the row stops.
 */
public final class DSnoT {
    /**
     * @param maxCycles the reference's max_cycle_time (50)
     * @param updateThreshold τ (0.1), in the reference's units: ε is summed over a sequence's tokens
     * @param powOfVarRegrowing γ (1): growth candidates rank by d / var^γ
     * @param signCheck stop a row when a swap would flip the sign of ε; null = the reference's behaviour (off for
     *                  unstructured masks, where the released code's flag cannot be turned on; on for N:M)
     */
    public record Options(int maxCycles, double updateThreshold, double powOfVarRegrowing, Boolean signCheck) {
        public static final Options DEFAULT = new Options(50, 0.1, 1.0, null);

        public Options {
            if (maxCycles < 0 || !(updateThreshold >= 0) || !Double.isFinite(powOfVarRegrowing)) {
                throw new InvalidSettingException("DSnoT options: {dsnot-max-cycles} must be >= 0, "
                        + "{dsnot-update-threshold} >= 0, {dsnot-pow-of-var-regrowing} finite");
            }
        }
    }

    /** Linears DSnoT leaves at their initial mask (the reference's {@code skip_layer}). */
    public enum SkipLayers {
        /** The MLP's linears (the reference's default). */
        MLP,
        /** The attention's linears. */
        ATTN,
        /** None: every linear is refined. */
        NONE;

        /** Whether the weight named {@code weight} (GPT-2 or LLaMA naming) is left at its initial mask. */
        public boolean skips(String weight) {
            return switch (this) {
                case MLP -> weight.contains(".mlp.");
                case ATTN -> weight.contains(".self_attn.") || weight.contains(".attn.");
                case NONE -> false;
            };
        }

        /** The setting's value: {@code mlp}, {@code attn} or {@code none}. */
        public String key() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The value of {@code dsnot-skip-layer}, as {@link #key} writes it. */
        public static SkipLayers parse(String key) {
            for (SkipLayers s : values()) {
                if (s.key().equals(key)) {
                    return s;
                }
            }
            throw InvalidSettingException.of("dsnot-skip-layer", key, "expected mlp, attn or none");
        }
    }

    /** The refined keep-mask, and how many swaps were made over how many cycles. */
    public record Result(INDArray keep, long swaps, int cycles) {
    }

    private static final float BIG = Float.MAX_VALUE;

    private DSnoT() {
    }

    /**
     * The mask DSnoT starts from: the lowest {@code scores} pruned within each output row (N:M: within each group of
     * M), whatever the criterion, as the reference sorts per row even for magnitude.
     */
    public static INDArray initialKeep(INDArray scores, SparsityPattern pattern) {
        return pattern.select(scores, false);
    }

    /**
     * @param weight [out, in] in compute layout
     * @param stats the linear's input statistics
     * @param initialKeep the initial mask (1 kept), e.g. {@link #initialKeep} of Wanda's scores
     * @param initialMetric the scores the initial mask was chosen by ([out, in]; lower = pruned first); N:M rows choose
     *                      the weight to prune by them, unstructured rows by the Wanda score
     */
    public static Result refine(INDArray weight, FeatureStats stats, INDArray initialKeep, INDArray initialMetric,
                                SparsityPattern pattern, Options o) {
        int rows = (int) weight.rows();
        int cols = (int) weight.columns();
        boolean nm = pattern.groupSize().isPresent();
        boolean signCheck = o.signCheck() != null ? o.signCheck() : nm;
        INDArray w = weight.castTo(DataType.FLOAT);
        INDArray keep = initialKeep.castTo(DataType.FLOAT);
        INDArray pruned = keep.rsub(1.0);
        // d_ij = W_ij · S_j / N_seq: weight (i, j)'s expected token-summed contribution to output i (signed)
        INDArray d = w.mulRowVector(stats.sumPerSequence().castTo(DataType.FLOAT).reshape(1, cols));
        INDArray dPruned = d.mul(pruned);
        double[] eps = dPruned.castTo(DataType.DOUBLE).sum(1).toDoubleVector();
        INDArray var = Transforms.max(stats.variance().castTo(DataType.FLOAT), Float.MIN_NORMAL);
        INDArray growth = dPruned.divRowVector(Transforms.pow(var, o.powOfVarRegrowing()).reshape(1, cols));
        int c = Math.min(cols, Math.max(1, o.maxCycles()));
        // growth lists: pruned columns with positive g, most positive first; with negative g, most negative first
        Ranked growPos = ranked(growth.neg(), pruned.mul(growth.gt(0).castTo(DataType.FLOAT)), c);
        Ranked growNeg = ranked(growth, pruned.mul(growth.lt(0).castTo(DataType.FLOAT)), c);
        // prune lists (unstructured): kept columns with d < 0, and with d >= 0, each by ascending Wanda score
        INDArray wanda = nm ? null : MaskCriterion.WANDA.scores(w, stats);
        Ranked pruneNeg = nm ? null : ranked(wanda, keep.mul(d.lt(0).castTo(DataType.FLOAT)), c);
        Ranked prunePos = nm ? null : ranked(wanda, keep.mul(d.gte(0).castTo(DataType.FLOAT)), c);

        float[] dv = HeapCopy.floats(d);
        float[] mask = HeapCopy.floats(keep);
        float[] metric = nm ? HeapCopy.floats(initialMetric) : null;
        if (nm) { // initially pruned weights never give their place back, as in the reference
            for (int k = 0; k < metric.length; k++) {
                if (mask[k] == 0f) {
                    metric[k] = Float.POSITIVE_INFINITY;
                }
            }
        }
        int m = pattern.groupSize().orElse(0);
        double[] sigma = new double[rows];
        boolean[] active = new boolean[rows];
        for (int i = 0; i < rows; i++) {
            sigma[i] = Math.signum(eps[i]);
            active[i] = true;
        }
        int[] gp = new int[rows];
        int[] gn = new int[rows];
        int[] pp = new int[rows];
        int[] pn = new int[rows];
        long swaps = 0;
        int cycle = 0;
        boolean anyActive = rows > 0;
        while (anyActive && cycle < o.maxCycles()) {
            anyActive = false;
            for (int i = 0; i < rows; i++) {
                if (!active[i]) {
                    continue;
                }
                int base = i * cols;
                int r = eps[i] > 0 ? growPos.next(i, gp) : growNeg.next(i, gn);
                int q;
                if (r < 0) {
                    q = -1;
                } else if (nm) {
                    q = -1;
                    int start = r - r % m;
                    for (int j = start; j < start + m; j++) {
                        if (metric[base + j] < Float.POSITIVE_INFINITY
                                && (q < 0 || metric[base + j] < metric[base + q])) {
                            q = j;
                        }
                    }
                    if (q >= 0) {
                        metric[base + q] = Float.POSITIVE_INFINITY; // consumed, swap or not
                    }
                } else {
                    q = eps[i] < 0 ? prunePos.next(i, pp) : pruneNeg.next(i, pn);
                }
                if (r < 0 || q < 0) {
                    active[i] = false; // a candidate list ran out
                    continue;
                }
                double next = eps[i] + dv[base + q] - dv[base + r];
                boolean go = Math.abs(eps[i]) > o.updateThreshold() && (!signCheck || Math.signum(next) == sigma[i]);
                if (!go) {
                    active[i] = false;
                    continue;
                }
                mask[base + q] = 0f;
                mask[base + r] = 1f;
                eps[i] = next;
                swaps++;
                anyActive = true;
            }
            cycle++;
        }
        return new Result(Nd4j.create(mask, new long[] {rows, cols}, 'c'), swaps, cycle);
    }

    /** Per row, the first {@code count[i]} entries of {@code order[i]} are the candidates, best first. */
    private record Ranked(int[][] order, int[] count) {
        /** The row's next candidate column, or -1 when none is left; advances the row's cursor. */
        int next(int row, int[] cursor) {
            int k = cursor[row]++;
            return k < count[row] && k < order[row].length ? order[row][k] : -1;
        }
    }

    /** Columns where {@code eligible} is 1, by ascending {@code key}, the first {@code limit} per row. */
    private static Ranked ranked(INDArray key, INDArray eligible, int limit) {
        INDArray k = key.castTo(DataType.FLOAT).mul(eligible).addi(eligible.rsub(1.0).muli(BIG));
        INDArray[] sorted = Nd4j.sortWithIndices(k.dup('c'), 1, true);
        INDArray first = sorted[0].get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(0, limit)).castTo(DataType.INT).dup('c');
        int rows = (int) key.rows();
        int[] flat = first.data().asInt();
        int[][] order = new int[rows][];
        for (int i = 0; i < rows; i++) {
            order[i] = java.util.Arrays.copyOfRange(flat, i * limit, (i + 1) * limit);
        }
        int[] count = eligible.sum(1).castTo(DataType.INT).toIntVector();
        return new Ranked(order, count);
    }
}
