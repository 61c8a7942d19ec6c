/**
 * Measuring a model in one JVM: perplexity on non-overlapping windows as the Wanda and SparseGPT evaluations
 * compute it, and seeded sampling.
 */
package org.sparseft.eval;
