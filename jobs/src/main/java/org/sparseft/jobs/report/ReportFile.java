package org.sparseft.jobs.report;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

import java.util.List;
import java.util.Map;

/**
 * A pipeline run's {@code report.json}: the recipe as run, versions, and each stage's figures as its outputs hold
 * them.
 *
 * @param recipe the recipe file
 * @param run the run directory
 * @param model the recipe's input model
 * @param seconds the run's wall time
 * @param versions what sparseft was built from and runs on
 * @param config the recipe as run (after {@code --set})
 * @param stages each stage, in recipe order
 * @param plots the PNG files written beside the report
 * @param valPplReferences the reference lines drawn in the validation perplexity plot
 */
@JsonPropertyOrder({"recipe", "run", "model", "seconds", "versions", "config", "stages", "plots", "val_ppl_references"})
public record ReportFile(String recipe, String run, String model, double seconds, Map<String, String> versions,
                         RecipeAsRun config, List<Stage> stages, List<String> plots,
                         @JsonProperty("val_ppl_references") List<String> valPplReferences) {
    /**
     * The recipe as run.
     *
     * @param model the input model
     * @param sparkMaster the Spark master the recipe names, or null
     * @param sparkConf the recipe's Spark settings
     * @param stages each stage's kind and options (a value, or a list for an option given several times)
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"model", "spark_master", "spark_conf", "stages"})
    public record RecipeAsRun(String model, @JsonProperty("spark_master") String sparkMaster,
                              @JsonProperty("spark_conf") Map<String, String> sparkConf,
                              Map<String, Map<String, Object>> stages) {
    }

    /**
     * One stage: what ran and, by kind, what its outputs hold.
     *
     * @param name the stage's name
     * @param kind data, prune, finetune, evaluate or export
     * @param status ran or skipped (finished earlier with the same configuration)
     * @param seconds how long it ran this time
     * @param output its output directory
     * @param configSha256 its configuration hash, or null
     * @param method prune and finetune: the method, with " + obs update" when the kept weights were updated and
     *               " + block-wise recovery (K steps)" after block-wise recovery
     * @param structure prune and finetune: unstructured or N:M, with ", OWL profile" for OWL's block sparsities
     * @param globalSparsity prune and finetune: pruned over total, over every masked weight
     * @param layerSparsity prune and finetune: each decoder layer's prunable linears together, by layer
     * @param tensorSparsity prune and finetune: each masked weight's
     * @param training finetune: the training's figures
     * @param perplexity evaluate: each model's validation perplexity (dense first)
     * @param perplexityWindows evaluate: windows evaluated
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"name", "kind", "status", "seconds", "output", "config_sha256", "method", "structure",
            "global_sparsity", "layer_sparsity", "tensor_sparsity", "training", "perplexity", "perplexity_windows"})
    public record Stage(String name, String kind, String status, double seconds, String output,
                        @JsonProperty("config_sha256") String configSha256, String method, String structure,
                        @JsonProperty("global_sparsity") Double globalSparsity,
                        @JsonProperty("layer_sparsity") Map<String, Double> layerSparsity,
                        @JsonProperty("tensor_sparsity") Map<String, Double> tensorSparsity, Training training,
                        Map<String, Double> perplexity,
                        @JsonProperty("perplexity_windows") Integer perplexityWindows) {
    }

    /**
     * A fine-tune's figures.
     *
     * @param steps optimizer steps
     * @param sync grad, average or sharded
     * @param partitions Spark partitions
     * @param resumedAtStep the step the last invocation started from
     * @param finalTrainLoss the last step's training objective
     * @param seconds the last invocation's training time
     * @param trainedParameters values trained, or null
     * @param valPplBefore validation perplexity of the dense input, or null
     * @param valPplAfter validation perplexity of the export, or null
     * @param valWindows validation windows, or null
     * @param objective AST: what its training objective is made of; null for cross-entropy
     * @param bytesBroadcast bytes sent to the executors over the run, or null without metrics
     * @param bytesCollected bytes collected from them, or null without metrics
     * @param bytesPerStep both per step, or null without metrics
     * @param maskFlipRateLast AST: the last re-selection's flip rate, or null
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"steps", "sync", "partitions", "resumed_at_step", "final_train_loss", "seconds",
            "trained_parameters", "val_ppl_before", "val_ppl_after", "val_windows", "objective", "bytes_broadcast",
            "bytes_collected", "bytes_per_step", "mask_flip_rate_last"})
    public record Training(int steps, String sync, int partitions, @JsonProperty("resumed_at_step") int resumedAtStep,
                           @JsonProperty("final_train_loss") double finalTrainLoss, double seconds,
                           @JsonProperty("trained_parameters") Long trainedParameters,
                           @JsonProperty("val_ppl_before") Double valPplBefore,
                           @JsonProperty("val_ppl_after") Double valPplAfter,
                           @JsonProperty("val_windows") Integer valWindows, String objective,
                           @JsonProperty("bytes_broadcast") Long bytesBroadcast,
                           @JsonProperty("bytes_collected") Long bytesCollected,
                           @JsonProperty("bytes_per_step") Double bytesPerStep,
                           @JsonProperty("mask_flip_rate_last") Double maskFlipRateLast) {
    }
}
