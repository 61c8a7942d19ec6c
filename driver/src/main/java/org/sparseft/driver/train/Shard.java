package org.sparseft.driver.train;

/**
 * One partition's training blocks, in ascending global block order: the partition holds blocks p, p + P, p + 2P, ...
 * of the data set, so shards differ in size by at most one block.
 */
public record Shard(int partition, int[][] blocks, long fingerprint) {
}
