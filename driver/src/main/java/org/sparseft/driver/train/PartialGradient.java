package org.sparseft.driver.train;

/**
 * What one partition returns from a gradient-synchronised step: its mean loss, the norm of its mean gradient and
 * that gradient (flat, in parameter order) over the {@code sequences} it trained on. Non-finite values travel as
 * they are; the driver stops on them, naming the partition.
 */
public record PartialGradient(int partition, int sequences, double loss, double gradNorm, float[] gradient) {
    boolean finite() {
        return Double.isFinite(loss) && Double.isFinite(gradNorm);
    }
}
