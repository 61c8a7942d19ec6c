package org.sparseft.driver.prune;

/**
 * One partition's calibration sequences for block-wise recovery: the block's inputs and the dense block's outputs on
 * them, each [sequences·seqLen, hidden] row-major.
 */
public record RecoveryShard(int partition, int sequences, int seqLen, int hidden, float[] inputs, float[] targets) {
}
