/**
 * Choosing which weights to prune: sparsity patterns (a ratio or N:M) and per-layer plans, mask selection from
 * scores, the calibration statistics executors sum, the one-shot methods (magnitude, Wanda, DSnoT, SparseGPT) for
 * one linear at a time, and the export of pruned weights in their input's layout.
 */
package org.sparseft.sparsity;
