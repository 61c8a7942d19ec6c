package org.sparseft.driver.prune;

/**
 * One partition's calibration sequences as hidden states entering the current block: [sequences·seqLen, hidden],
 * row-major. They stay on the executors from block to block (docs/algorithms.md §2.2).
 */
public record CalibrationShard(int partition, int sequences, int seqLen, int hidden, float[] states) {
}
