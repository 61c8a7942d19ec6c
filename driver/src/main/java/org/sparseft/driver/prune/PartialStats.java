package org.sparseft.driver.prune;

import org.sparseft.sparsity.FeatureStats;

/**
 * One partition's input statistics for the prunable linears of a block. Linears reading the same input share one
 * entry, named after the first of them.
 *
 * @param weights every prunable linear's weight name
 * @param readers for each of {@code weights}, the name its input's statistics are kept under
 * @param inputs the names the statistics are kept under
 * @param stats the statistics of each of {@code inputs}
 * @param seconds the task's time spent computing them
 */
public record PartialStats(int partition, String[] weights, String[] readers, String[] inputs, FeatureStats[] stats,
                           double seconds) {
}
