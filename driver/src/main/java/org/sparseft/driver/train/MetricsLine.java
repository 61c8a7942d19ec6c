package org.sparseft.driver.train;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One line of {@code metrics.jsonl}: a training step's figures, or a validation's. Fields a line does not have are
 * left out; an objective's own figures (AST's mask flip rates) follow the step's under their own names.
 *
 * @param step the optimizer steps done
 * @param loss the step's training loss
 * @param lr the step's learning rate
 * @param gradNorm the norm of the step's gradient (the mean of the partitions' norms when averaging)
 * @param seconds wall time since the run (this invocation) started
 * @param tokensPerS training tokens per second since the start
 * @param bytesBroadcast bytes sent to the executors so far
 * @param bytesCollected bytes collected from them so far
 * @param bytesExchanged bytes the executors sent each other (sharded synchronisation only)
 * @param figures the objective's own figures, by name
 * @param valPpl validation perplexity
 * @param valLoss validation mean loss per token
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"step", "loss", "lr", "grad_norm", "seconds", "tokens_per_s", "bytes_broadcast", "bytes_collected",
        "bytes_exchanged", "val_ppl", "val_loss"})
public record MetricsLine(int step, Double loss, Double lr, @JsonProperty("grad_norm") Double gradNorm,
                          Double seconds, @JsonProperty("tokens_per_s") Double tokensPerS,
                          @JsonProperty("bytes_broadcast") Long bytesBroadcast,
                          @JsonProperty("bytes_collected") Long bytesCollected,
                          @JsonProperty("bytes_exchanged") Long bytesExchanged,
                          @JsonAnyGetter Map<String, Double> figures, @JsonProperty("val_ppl") Double valPpl,
                          @JsonProperty("val_loss") Double valLoss) {
    /** Copies the figures, keeping their order. */
    public MetricsLine {
        figures = Collections.unmodifiableMap(new LinkedHashMap<>(figures));
    }

    /** A training step's line. */
    public static MetricsLine training(int step, double loss, double lr, double gradNorm, double seconds,
                                       double tokensPerS, long bytesBroadcast, long bytesCollected,
                                       Long bytesExchanged, Map<String, Double> figures) {
        return new MetricsLine(step, loss, lr, gradNorm, seconds, tokensPerS, bytesBroadcast, bytesCollected,
                bytesExchanged, figures, null, null);
    }

    /** A validation's line. */
    public static MetricsLine validation(int step, double perplexity, double meanLoss) {
        return new MetricsLine(step, null, null, null, null, null, null, null, null, Map.of(), perplexity, meanLoss);
    }
}
