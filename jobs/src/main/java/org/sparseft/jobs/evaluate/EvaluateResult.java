package org.sparseft.jobs.evaluate;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/**
 * What an evaluation measured. Serialized (snake case, the unigram fields only when there is a baseline, the model's
 * type and size and the written paths left out) it is the JSON written to {@code out}, which recipes' reports read.
 *
 * @param model the model directory, qualified
 * @param data the input evaluated on, as given
 * @param seqlen the window length
 * @param windows the windows evaluated
 * @param tokens the tokens of those windows ({@code windows} x {@code seqlen})
 * @param meanNll the mean over windows of each window's mean loss over its {@code seqlen - 1} predictions
 * @param perplexity {@code exp(meanNll)}
 * @param seconds the time the evaluation on Spark took
 * @param tokensPerSecond {@code tokens / seconds}
 * @param unigramFrom the token file of the unigram baseline, or null
 * @param unigramPerplexity the unigram baseline's perplexity on the same windows, or null
 * @param modelType the model's architecture ({@code gpt2}, {@code llama})
 * @param parameters the model's parameter count
 * @param out the JSON file written, or null
 * @param dumpLogits the logits file written, or null
 * @param modelLoading how executors held the model ({@code whole}, {@code by-block})
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonPropertyOrder({"model", "data", "seqlen", "windows", "tokens", "mean_nll", "perplexity", "seconds",
        "tokens_per_second", "unigram_from", "unigram_perplexity", "model_loading"})
public record EvaluateResult(String model, String data, int seqlen, int windows, long tokens, double meanNll,
                             double perplexity, double seconds, double tokensPerSecond,
                             @JsonInclude(JsonInclude.Include.NON_NULL) String unigramFrom,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Double unigramPerplexity,
                             @JsonIgnore String modelType, @JsonIgnore long parameters, @JsonIgnore String out,
                             @JsonIgnore String dumpLogits, String modelLoading) {
}
