package org.sparseft.jobs.finetune;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import org.sparseft.sparsity.OutlierWeighting;

/**
 * How a fine-tuned sparse checkpoint was made: the head of its {@code sparsity.json}, before the per-weight figures.
 *
 * @param producer {@code sparseft finetune}
 * @param command how the job was invoked (the command line, a recipe stage or the Java API)
 * @param model the input checkpoint, qualified
 * @param modelContentSha256 the input's content hash
 * @param method pst or ast
 * @param structure {@code unstructured} or {@code N:M}
 * @param targetSparsity the sparsity trained towards
 * @param owl OWL's outlier ratios and the blocks' sparsities (PST), or null for the target everywhere
 * @param settings the method's block, under its name ({@code pst} or {@code ast})
 * @param training what was trained on, for how long, and the final loss
 * @param validation perplexity before and after on held-out data, or null when there was none
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"producer", "command", "model", "model_content_sha256", "method", "structure", "target_sparsity",
        "owl", "settings", "training", "validation"})
public record FinetuneProvenance(String producer, String command, String model,
                                 @JsonProperty("model_content_sha256") String modelContentSha256, String method,
                                 String structure, @JsonProperty("target_sparsity") double targetSparsity,
                                 OutlierWeighting.Plan owl, @JsonUnwrapped FinetuneMethod.Settings settings, Training training,
                                 Validation validation) {
    /**
     * What was trained on, for how long, and the final loss.
     *
     * @param data the training text or token file
     * @param dataFingerprint the blocks' fingerprint
     * @param steps optimizer steps in all
     * @param batch sequences per step
     * @param seqlen tokens per sequence
     * @param partitions Spark partitions
     * @param sync how partitions synchronised: grad, average or sharded
     * @param run the run directory (checkpoints, metrics.jsonl)
     * @param resumedAtStep the step this invocation started from (0: a fresh run)
     * @param finalTrainLoss the last step's training loss
     * @param seconds this invocation's training time
     */
    @JsonPropertyOrder({"data", "data_fingerprint", "steps", "batch", "seqlen", "partitions", "sync", "run",
            "resumed_at_step", "final_train_loss", "seconds"})
    public record Training(String data, @JsonProperty("data_fingerprint") String dataFingerprint, int steps, int batch,
                           int seqlen, int partitions, String sync, String run,
                           @JsonProperty("resumed_at_step") int resumedAtStep,
                           @JsonProperty("final_train_loss") double finalTrainLoss, double seconds) {
    }

    /**
     * Perplexity on held-out data, before (the dense input) and after (the exported checkpoint).
     *
     * @param source the validation text or token file
     * @param windows windows evaluated
     * @param perplexityBefore the dense input's
     * @param perplexityAfter the exported checkpoint's (with the SLoRB branch, when there is one)
     * @param perplexityAfterWithoutSlorb the exported checkpoint's without its SLoRB branch, or null
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"source", "windows", "perplexity_before", "perplexity_after",
            "perplexity_after_without_slorb"})
    public record Validation(String source, int windows, @JsonProperty("perplexity_before") double perplexityBefore,
                             @JsonProperty("perplexity_after") double perplexityAfter,
                             @JsonProperty("perplexity_after_without_slorb") Double perplexityAfterWithoutSlorb) {
    }
}
