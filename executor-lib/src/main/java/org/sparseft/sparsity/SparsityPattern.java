package org.sparseft.sparsity;

import org.sparseft.InvalidSettingException;

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
    default String label() {
        return this instanceof Unstructured u ? "unstructured " + u.ratio() : structure();
    }

    /** A fraction {@code ratio} of each comparison group pruned; 0 ≤ ratio < 1. */
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
        public double ratio() {
            return (double) n / m;
        }
    }

    /** Parses {@code N:M}. */
    static NOutOfM parse(String pattern) {
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
