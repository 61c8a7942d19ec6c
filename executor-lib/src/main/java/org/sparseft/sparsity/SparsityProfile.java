package org.sparseft.sparsity;

/** How a model-wide sparsity target spreads over the decoder blocks. */
public enum SparsityProfile {
    /** Every block gets the target. */
    UNIFORM,
    /** Blocks with more outlier scores keep more weights ({@link OutlierWeighting}). */
    OWL
}
