package org.sparseft.sparsity;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.annotation.JsonUnwrapped;

import java.util.Map;

/**
 * A sparse checkpoint's {@code sparsity.json}: how it was made ({@code provenance}, a record of the job that made
 * it, whose fields come first) and what its masks hold, per weight and over all of them.
 *
 * @param provenance the job's record: producer, command, input model and its hash, method, settings, data
 * @param tensors each masked weight's figures, by canonical name in checkpoint order
 * @param globalSparsity pruned over total, counted over every masked weight
 * @param <P> the provenance record's type
 */
@JsonPropertyOrder({"provenance", "tensors", "global_sparsity"})
public record SparsityFile<P>(@JsonUnwrapped P provenance, Map<String, TensorSparsity> tensors,
                              @JsonProperty("global_sparsity") double globalSparsity) {
    /** Copies the figures. */
    public SparsityFile {
        tensors = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(tensors));
    }

    /**
     * One weight's mask.
     *
     * @param sparsity pruned over total
     * @param pruned weights pruned (exactly zero in the checkpoint)
     * @param total weights in the tensor
     */
    @JsonPropertyOrder({"sparsity", "pruned", "total"})
    public record TensorSparsity(double sparsity, long pruned, long total) {
    }
}
