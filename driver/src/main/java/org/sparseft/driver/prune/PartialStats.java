package org.sparseft.driver.prune;

import org.sparseft.sparsity.FeatureStats;

/** One partition's input statistics for the prunable linears of a block, by weight name. */
public record PartialStats(int partition, String[] weights, FeatureStats[] stats) {
}
