package org.sparseft.driver.train;

/** One chunk's parameter values on their way to every partition for the next step's forward and backward. */
public record ChunkValues(int chunk, float[] values) {
}
