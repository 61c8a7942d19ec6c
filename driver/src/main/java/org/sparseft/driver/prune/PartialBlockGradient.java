package org.sparseft.driver.prune;

/**
 * One partition's share of a recovery step.
 *
 * @param squaredError the sum of squared differences from the dense block's outputs
 * @param rows the token rows it covers
 * @param gradient the gradient of {@code squaredError} for each of the block's tensors, flat in the step's order
 */
public record PartialBlockGradient(int partition, double squaredError, long rows, float[] gradient) {
}
