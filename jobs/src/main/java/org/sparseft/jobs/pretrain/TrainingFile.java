package org.sparseft.jobs.pretrain;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/**
 * A pretrained checkpoint's {@code training.json}: how it was trained, and every line of its run's
 * {@code metrics.jsonl}.
 *
 * @param command how the job was invoked (the command line, a recipe stage or the Java API)
 * @param config the architecture's config.json
 * @param init the checkpoint training started from, or null (from scratch)
 * @param data the training text or token file
 * @param validation the validation text or token file, or null
 * @param tokenizer the tokenizer, described
 * @param parameters the model's parameter count
 * @param steps optimizer steps in all
 * @param partitions Spark partitions
 * @param sync how partitions synchronised: grad, average or sharded
 * @param run the run directory
 * @param resumedAtStep the step this invocation started from
 * @param tokens training tokens over all steps
 * @param secondsThisInvocation this invocation's training time
 * @param validationPerplexity the final validation perplexity, or null without validation data
 * @param validationWindows its windows, or null
 * @param metrics every line of the run's metrics.jsonl
 * @param finalTrainLoss the last step's training loss (NaN when no step was logged)
 */
@JsonPropertyOrder({"command", "config", "init", "data", "validation", "tokenizer", "parameters", "steps", "partitions",
        "sync", "run", "resumed_at_step", "tokens", "seconds_this_invocation", "validation_perplexity",
        "validation_windows", "metrics", "final_train_loss"})
public record TrainingFile(String command, String config, String init, String data, String validation,
                           String tokenizer, long parameters, int steps, int partitions, String sync, String run,
                           @JsonProperty("resumed_at_step") int resumedAtStep, long tokens,
                           @JsonProperty("seconds_this_invocation") double secondsThisInvocation,
                           @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("validation_perplexity")
                           Double validationPerplexity,
                           @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("validation_windows")
                           Integer validationWindows,
                           List<JsonNode> metrics, @JsonProperty("final_train_loss") double finalTrainLoss) {
    /** Copies the metrics lines. */
    public TrainingFile {
        metrics = List.copyOf(metrics);
    }
}
