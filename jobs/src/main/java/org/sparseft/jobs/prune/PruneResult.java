package org.sparseft.jobs.prune;

import org.sparseft.driver.prune.LayerwisePruner;
import org.sparseft.sparsity.SparsityFile;

/**
 * What a prune wrote and measured.
 *
 * @param model the input checkpoint, qualified
 * @param modelType the model family ({@code gpt2}, {@code llama})
 * @param blocks the model's transformer blocks
 * @param method the method run
 * @param target the sparsity, as a label ({@code unstructured 0.5}, {@code 2:4})
 * @param dsnotSwaps DSnoT's prune-and-grow swaps (0 for other methods)
 * @param sequences calibration sequences used
 * @param seqlen tokens per calibration sequence
 * @param partitions calibration partitions
 * @param seconds time spent calibrating and choosing masks
 * @param globalSparsity the fraction of pruned weights over all pruned linears
 * @param prunedLinears the number of linears pruned
 * @param out the written checkpoint
 * @param sparsity the written {@code sparsity.json}: provenance (input hash, settings, calibration fingerprint) and
 *                 per-tensor sparsity
 * @param blockTimings each block's calibration, statistics and mask-search time, in block order
 */
public record PruneResult(String model, String modelType, int blocks, LayerwisePruner.Method method, String target,
                          long dsnotSwaps, int sequences, int seqlen, int partitions, double seconds,
                          double globalSparsity, int prunedLinears, String out,
                          SparsityFile<PruneProvenance> sparsity,
                          java.util.List<LayerwisePruner.BlockTiming> blockTimings) {
    /** Copies the timings. */
    public PruneResult {
        blockTimings = java.util.List.copyOf(blockTimings);
    }
}
