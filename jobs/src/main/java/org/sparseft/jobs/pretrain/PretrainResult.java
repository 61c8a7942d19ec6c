package org.sparseft.jobs.pretrain;

/**
 * What a pretraining run trained, measured and wrote.
 *
 * @param modelType the model family ({@code gpt2}, {@code llama})
 * @param parameters the model's parameter count
 * @param firstStep the step training started from (0, or the checkpoint's when resumed)
 * @param steps the last step
 * @param tokensTrained tokens trained on in this run (0 when a resume found the final checkpoint)
 * @param seconds time spent training in this run
 * @param partitions data partitions
 * @param finalTrainLoss the training loss of the last step (of the run directory's metrics, so also after a resume
 *                       with nothing left to do)
 * @param validation the final validation perplexity, or null without validation data
 * @param seqlen tokens per sequence
 * @param run the run directory (checkpoints, metrics.jsonl), qualified
 * @param out the written model directory, as given
 * @param training the written {@code training.json}: provenance, settings, figures and every metrics line
 */
public record PretrainResult(String modelType, long parameters, int firstStep, int steps, long tokensTrained,
                             double seconds, int partitions, double finalTrainLoss, Validation validation, int seqlen,
                             String run, String out, TrainingFile training) {
    /** The final validation perplexity over {@code windows} windows. */
    public record Validation(double perplexity, int windows) {
    }
}
