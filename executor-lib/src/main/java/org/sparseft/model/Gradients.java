package org.sparseft.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Where a backward pass puts parameter gradients. {@link Parameters} keeps one buffer per tensor and sums into it
 * across passes (dense training). A sparse method that trains small tensors derived from the frozen weights gives a
 * buffer for one linear at a time and maps it onto what it trains as soon as the pass has finished with it, so a
 * task never holds a whole-model gradient, and tensors without a buffer (frozen embeddings, norms, the head) cost no
 * gradient work at all.
 */
public interface Gradients {
    /** The buffer that {@code name}'s gradient is added into during the pass, or null to skip that gradient. */
    INDArray buffer(String name);

    /**
     * Called once per pass after a block linear's weight gradient is complete in its buffer (block linears are used
     * once per pass, so nothing more is added to it).
     */
    default void finished(String weightName) {
    }
}
