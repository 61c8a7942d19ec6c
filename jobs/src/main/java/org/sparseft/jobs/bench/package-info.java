/**
 * {@code sparseft bench}: benchmarks that print tables (engine speed against the machine's GEMM ceiling, Spark's
 * cost per training step, mask search, pruning per block, SameDiff against the hand-written passes). Speed targets
 * live here, not in unit tests.
 */
package org.sparseft.jobs.bench;
