/**
 * Perplexity with its windows spread over executors and their losses summed in window order, so the figure does not
 * depend on the partitioning.
 */
package org.sparseft.driver.eval;
