package org.sparseft.jobs.prune;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

import org.sparseft.driver.prune.BlockRecovery;
import org.sparseft.sparsity.OutlierWeighting;

import java.util.Map;

/**
 * How a pruned checkpoint was made: the head of its {@code sparsity.json}, before the per-weight figures.
 *
 * @param producer {@code sparseft prune}
 * @param command how the job was invoked (the command line, a recipe stage or the Java API)
 * @param model the input checkpoint, qualified
 * @param modelContentSha256 the input's content hash
 * @param method magnitude, wanda, dsnot or sparsegpt
 * @param structure {@code unstructured} or {@code N:M}
 * @param targetSparsity the target of weights without a per-layer rule
 * @param perLayer the per-layer rules ({@code file}, then each name pattern's ratio or N:M), or null
 * @param calibration the calibration sample
 * @param sparsegpt SparseGPT's settings, or null for the other methods
 * @param update the OBS update of the kept weights after the masks were chosen, or null without one
 * @param owl OWL's outlier ratios and the blocks' sparsities, or null for a uniform target
 * @param recovery block-wise recovery's settings and time, or null without it
 * @param dsnot DSnoT's settings and swaps, or null for the other methods
 * @param seconds the pruning's wall time
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"producer", "command", "model", "model_content_sha256", "method", "structure", "target_sparsity",
        "per_layer", "owl", "calibration", "sparsegpt", "dsnot", "update", "recovery", "seconds"})
public record PruneProvenance(String producer, String command, String model,
                              @JsonProperty("model_content_sha256") String modelContentSha256, String method,
                              String structure, @JsonProperty("target_sparsity") double targetSparsity,
                              @JsonProperty("per_layer") Map<String, String> perLayer, Calibration calibration,
                              SparseGpt sparsegpt, ObsUpdate update, OutlierWeighting.Plan owl, Recovery recovery, Dsnot dsnot,
                              double seconds) {
    /**
     * The calibration sample.
     *
     * @param source the text or token file
     * @param nsamples sequences
     * @param seqlen tokens per sequence
     * @param seed the sample's seed
     * @param partitions Spark partitions
     * @param dataFingerprint the sample's fingerprint
     */
    @JsonPropertyOrder({"source", "nsamples", "seqlen", "seed", "partitions", "data_fingerprint"})
    public record Calibration(String source, int nsamples, int seqlen, long seed, int partitions,
                              @JsonProperty("data_fingerprint") String dataFingerprint) {
    }

    /**
     * SparseGPT's settings.
     *
     * @param percdamp the dampening, as a fraction of the Hessian's mean diagonal
     * @param blocksize columns per lazy-update block
     * @param weightsUpdated always true: SparseGPT changes the kept weights
     */
    @JsonPropertyOrder({"percdamp", "blocksize", "weights_updated"})
    public record SparseGpt(double percdamp, int blocksize, @JsonProperty("weights_updated") boolean weightsUpdated) {
    }

    /**
     * The update of the kept weights after the masks were chosen: SparseGPT's column sweep with the masks fixed.
     *
     * @param percdamp the dampening, as a fraction of the Hessian's mean diagonal
     * @param blocksize columns per lazy-update block
     */
    @JsonPropertyOrder({"method", "percdamp", "blocksize"})
    public record ObsUpdate(double percdamp, int blocksize) {
        /** Always {@code obs}. */
        @JsonProperty("method")
        public String method() {
            return "obs";
        }
    }

    /**
     * Block-wise recovery: Adam steps on each pruned block, masks fixed, towards the dense block's outputs.
     *
     * @param steps steps per block
     * @param lr Adam's step size
     * @param batch calibration sequences per step
     * @param holdout calibration sequences held out to choose each block's kept step (0: the last step is kept)
     * @param firstError each block's mean squared difference from the dense block's outputs on the first step's
     *                   batch, in block order
     * @param lastError the same on the last step's batch (before its update)
     * @param heldOutStart each block's error on the held-out sequences with its one-shot weights (null without)
     * @param heldOutKept the same with the weights kept (null without)
     * @param keptStep the step whose weights each block kept (0: its one-shot weights)
     * @param seconds each block's recovery time, dense targets included, in block order
     */
    @JsonPropertyOrder({"steps", "lr", "batch", "holdout", "first_error", "last_error", "held_out_start",
            "held_out_kept", "kept_step", "seconds"})
    public record Recovery(int steps, double lr, int batch, int holdout,
                           @JsonProperty("first_error") double[] firstError,
                           @JsonProperty("last_error") double[] lastError,
                           @JsonProperty("held_out_start") double[] heldOutStart,
                           @JsonProperty("held_out_kept") double[] heldOutKept,
                           @JsonProperty("kept_step") int[] keptStep, double[] seconds) {
        static Recovery of(BlockRecovery.Options o, int sequences, java.util.List<BlockRecovery.Outcome> blocks) {
            int holdout = o.heldOut(sequences);
            return new Recovery(o.steps(), o.learningRate(), o.batch(), holdout,
                    blocks.stream().mapToDouble(BlockRecovery.Outcome::firstError).toArray(),
                    blocks.stream().mapToDouble(BlockRecovery.Outcome::lastError).toArray(),
                    holdout == 0 ? null : blocks.stream().mapToDouble(BlockRecovery.Outcome::heldOutStart).toArray(),
                    holdout == 0 ? null : blocks.stream().mapToDouble(BlockRecovery.Outcome::heldOutBest).toArray(),
                    blocks.stream().mapToInt(BlockRecovery.Outcome::keptStep).toArray(),
                    blocks.stream().mapToDouble(BlockRecovery.Outcome::seconds).toArray());
        }
    }

    /**
     * DSnoT's settings and what it did.
     *
     * @param initial the initial mask's criterion
     * @param maxCycles the most swaps per row
     * @param updateThreshold the error at which a row stops
     * @param powOfVarRegrowing the variance power of the regrowth score
     * @param skipLayer the linears left at the initial mask
     * @param signCheck whether swaps are sign-checked ({@code reference default} when not set)
     * @param swaps prune-and-grow swaps made over all rows
     */
    @JsonPropertyOrder({"initial", "max_cycles", "update_threshold", "pow_of_var_regrowing", "skip_layer", "sign_check",
            "swaps"})
    public record Dsnot(String initial, @JsonProperty("max_cycles") int maxCycles,
                        @JsonProperty("update_threshold") double updateThreshold,
                        @JsonProperty("pow_of_var_regrowing") double powOfVarRegrowing,
                        @JsonProperty("skip_layer") String skipLayer, @JsonProperty("sign_check") String signCheck,
                        long swaps) {
    }
}
