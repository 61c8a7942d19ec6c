package org.sparseft.sparsity;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.InvalidSettingException;

import java.util.OptionalInt;

/**
 * Which weights of a linear may be pruned together. Groups run along the input dimension of the [out, in] weight,
 * per output row (docs/algorithms.md §3.3, §3.4).
 */
public sealed interface SparsityPattern extends java.io.Serializable {
    /** How many of {@code in} weights of one row this pattern prunes. */
    int prunedPerRow(long in);

    /** Refuses a linear this pattern cannot apply to, naming the tensor. */
    void checkFits(String tensor, long in);

    /** For {@code sparsity.json} and the compressed-tensors block: {@code unstructured} or {@code N:M}. */
    String structure();

    /** The fraction of weights pruned. */
    double ratio();

    /** For messages: {@code unstructured 0.5} or {@code 2:4}. */
    String label();

    /** M, the size of the groups N:M prunes within; empty for unstructured. */
    OptionalInt groupSize();

    /**
     * The keep-mask (1 kept, 0 pruned; float32) of [out, in] {@code scores}, lowest pruned first: N:M prunes the N
     * lowest of each group of M of every row; unstructured prunes {@link #prunedPerRow} of every row, or, when
     * {@code wholeMatrix}, the ⌊out·in·ratio⌋ lowest of the whole matrix.
     */
    INDArray select(INDArray scores, boolean wholeMatrix);

    /** As {@link #select} within rows (not {@code wholeMatrix}), the scores of [rows, cols] produced a row at a time. */
    INDArray selectByRow(MaskSelection.RowScores scores, int rows, int cols);

    /** A fraction {@code ratio} of each comparison group pruned, {@code 0 <= ratio < 1}. */
    record Unstructured(double ratio) implements SparsityPattern {
        public Unstructured {
            if (!(ratio >= 0 && ratio < 1)) {
                throw InvalidSettingException.of("sparsity", ratio, "expected a fraction in [0, 1)");
            }
        }

        @Override
        public int prunedPerRow(long in) {
            return (int) Math.floor(in * ratio);
        }

        @Override
        public void checkFits(String tensor, long in) {
        }

        @Override
        public String structure() {
            return "unstructured";
        }

        @Override
        public String label() {
            return "unstructured " + ratio;
        }

        @Override
        public OptionalInt groupSize() {
            return OptionalInt.empty();
        }

        @Override
        public INDArray select(INDArray scores, boolean wholeMatrix) {
            return wholeMatrix ? MaskSelection.whole(scores, (long) Math.floor(scores.rows() * scores.columns() * ratio))
                    : MaskSelection.perRow(scores, prunedPerRow(scores.columns()));
        }

        @Override
        public INDArray selectByRow(MaskSelection.RowScores scores, int rows, int cols) {
            return MaskSelection.perRow(scores, rows, cols, prunedPerRow(cols));
        }
    }

    /** N pruned in every group of M consecutive input weights of a row (the code's "2:4" prunes 2 of 4). */
    record NOutOfM(int n, int m) implements SparsityPattern {
        public NOutOfM {
            if (m < 2 || n < 1 || n >= m) {
                throw InvalidSettingException.of("pattern", n + ":" + m, "expected N:M with 1 <= N < M");
            }
        }

        @Override
        public int prunedPerRow(long in) {
            return (int) (in / m * n);
        }

        @Override
        public void checkFits(String tensor, long in) {
            if (in % m != 0) {
                throw new InvalidSettingException("{pattern} " + n + ":" + m + ": tensor '"
                        + InvalidSettingException.literal(tensor) + "' has " + in + " inputs per row, not a multiple of "
                        + m);
            }
        }

        @Override
        public String structure() {
            return n + ":" + m;
        }

        @Override
        public String label() {
            return structure();
        }

        @Override
        public double ratio() {
            return (double) n / m;
        }

        @Override
        public OptionalInt groupSize() {
            return OptionalInt.of(m);
        }

        @Override
        public INDArray select(INDArray scores, boolean wholeMatrix) {
            return MaskSelection.perGroup(scores, n, m);
        }

        @Override
        public INDArray selectByRow(MaskSelection.RowScores scores, int rows, int cols) {
            return MaskSelection.perGroup(scores, rows, cols, n, m);
        }
    }

    /**
     * Parses a ratio ({@code 0.5}, unstructured) or {@code N:M} ({@code 2:4}), as a per-layer plan's values and the
     * benchmark's target are written.
     */
    static SparsityPattern parse(String text) {
        if (text.contains(":")) {
            return parseNOutOfM(text);
        }
        double ratio;
        try {
            ratio = Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw InvalidSettingException.of("pattern", text, "expected a ratio in [0, 1) or N:M, e.g. 0.5 or 2:4");
        }
        return new Unstructured(ratio);
    }

    /** Parses {@code N:M} only, as {@code pattern} is written. */
    static NOutOfM parseNOutOfM(String pattern) {
        String[] parts = pattern.split(":");
        try {
            if (parts.length == 2) {
                return new NOutOfM(Integer.parseInt(parts[0].trim()), Integer.parseInt(parts[1].trim()));
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw InvalidSettingException.of("pattern", pattern, "expected N:M, e.g. 2:4");
    }
}
