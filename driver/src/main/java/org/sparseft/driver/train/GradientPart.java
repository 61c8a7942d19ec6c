package org.sparseft.driver.train;

/**
 * One partition's mean gradient restricted to one chunk's tensors, on its way to the executor that sums that chunk.
 * Every part carries the partition's loss and the norm of its whole gradient, so each chunk's sum also knows the
 * step's loss and which partition, if any, went non-finite.
 */
public record GradientPart(int partition, int sequences, double loss, double gradNorm, float[] values) {
}
