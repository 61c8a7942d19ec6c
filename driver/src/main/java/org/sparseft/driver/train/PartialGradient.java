package org.sparseft.driver.train;

/**
 * What one partition returns from a gradient-synchronised step: its mean loss and mean gradient (flat, in parameter
 * order) over the {@code sequences} it trained on. A non-finite loss travels as it is; the driver stops on it.
 */
public record PartialGradient(int partition, int sequences, double loss, float[] gradient) {
}
