/**
 * One-shot pruning block by block on Spark: the calibration hidden states stay on the executors, each partition
 * returns its additive statistics for a block, the driver sums them in partition order and chooses the block's
 * masks.
 */
package org.sparseft.driver.prune;
