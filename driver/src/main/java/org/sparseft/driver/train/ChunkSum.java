package org.sparseft.driver.train;

/**
 * A chunk's gradient summed over all partitions (weighted by their share, in partition-id order), kept beside the
 * chunk's state until the update, and its {@link Report}: the small part that goes to the driver.
 */
public record ChunkSum(float[] gradient, Report report) {
    /**
     * @param tensorNorms the L2 norm of each of the chunk's tensors in the summed gradient, in parameter order
     * @param sequences   per partition (index = partition id): sequences trained on
     * @param losses      per partition: mean loss
     * @param gradNorms   per partition: norm of its whole mean gradient
     */
    public record Report(int chunk, double[] tensorNorms, int[] sequences, double[] losses, double[] gradNorms) {
    }
}
