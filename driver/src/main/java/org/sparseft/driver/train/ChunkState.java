package org.sparseft.driver.train;

/**
 * One chunk's share of the training state under sharded synchronisation, kept on the executor that updates it: the
 * parameter values and AdamW's two moments of the chunk's tensors, flat in parameter order.
 */
public record ChunkState(int chunk, float[] values, float[] firstMoment, float[] secondMoment) {
}
