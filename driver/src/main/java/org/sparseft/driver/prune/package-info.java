/**
 * One-shot pruning block by block on Spark: the calibration hidden states stay on the executors, each partition
 * returns its additive statistics for a block, the driver sums them in partition order and chooses the block's
 * masks; optionally OWL's dense pass first (per-block sparsities) and block-wise recovery after each block (a few
 * Adam steps towards the dense block's outputs, gradients summed in partition order).
 */
package org.sparseft.driver.prune;
