package org.sparseft.jobs.evaluate;

/** How executors hold the model while evaluating; both give the same figures to the last bit. */
public enum ModelLoading {
    /** {@link #WHOLE} when the model's float32 weights take at most a quarter of an executor's memory, else by block. */
    AUTO,
    /** Each executor loads the whole model once and evaluates its windows (fastest when it fits). */
    WHOLE,
    /**
     * The windows' hidden states stay on the executors and the model passes through them one block at a time, read in
     * its stored dtype: an executor holds about two blocks, whatever the model's depth.
     */
    BY_BLOCK
}
