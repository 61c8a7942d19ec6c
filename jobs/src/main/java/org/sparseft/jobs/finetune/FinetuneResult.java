package org.sparseft.jobs.finetune;

import org.sparseft.sparsity.SparsityFile;

/**
 * What a fine-tune trained, measured and wrote.
 *
 * @param model the input checkpoint, qualified
 * @param modelType the model family ({@code gpt2}, {@code llama})
 * @param parameters the input model's parameter count
 * @param method the method run
 * @param target the sparsity, as a label ({@code unstructured 0.5}, {@code 2:4})
 * @param trained what the method trains ({@code "5,120 trained parameters (19.09% of 26,816)"})
 * @param firstStep the step training started from (0, or the checkpoint's when resumed)
 * @param steps the last step
 * @param finalTrainLoss the training loss of the last step
 * @param seconds time spent training in this run
 * @param validation perplexity before and after, or null without validation data
 * @param globalSparsity the fraction of pruned weights over all masked linears
 * @param linears the number of masked linears
 * @param run the run directory (checkpoints, metrics.jsonl), qualified
 * @param out the written checkpoint, as given
 * @param sparsity the written {@code sparsity.json}: provenance, the method's settings, training and validation
 *                 figures, and per-tensor sparsity
 */
public record FinetuneResult(String model, String modelType, long parameters, FinetuneSpec.Method method,
                             String target, String trained, int firstStep, int steps, double finalTrainLoss,
                             double seconds, Validation validation, double globalSparsity, int linears, String run,
                             String out,
                             SparsityFile<FinetuneProvenance> sparsity) {
    /**
     * Validation perplexity.
     *
     * @param before of the dense input model
     * @param after of the model as exported (with SLoRB's branch when there is one)
     * @param afterWithoutBranch of the exported checkpoint alone, when SLoRB's branch is beside it; else null
     * @param windows the windows measured
     */
    public record Validation(double before, double after, Double afterWithoutBranch, int windows) {
    }
}
