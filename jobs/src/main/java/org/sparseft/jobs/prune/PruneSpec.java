package org.sparseft.jobs.prune;

import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonPOJOBuilder;
import org.sparseft.InvalidSettingException;
import org.sparseft.driver.prune.BlockRecovery;
import org.sparseft.driver.prune.LayerwisePruner;
import org.sparseft.jobs.service.DataInput;
import org.sparseft.jobs.spec.MethodSettings;
import org.sparseft.sparsity.DSnoT;
import org.sparseft.sparsity.ExportMetadata;
import org.sparseft.sparsity.MaskCriterion;
import org.sparseft.sparsity.OutlierWeighting;
import org.sparseft.sparsity.SparseGPT;
import org.sparseft.sparsity.SparsityPattern;
import org.sparseft.sparsity.SparsityProfile;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * One-shot pruning of a dense checkpoint with calibration data: what {@code sparseft prune}, a recipe's prune stage
 * and {@link org.sparseft.jobs.SparseFT#prune} run. Made by {@link #builder()}, whose keys are the command line's
 * flags without dashes; validated here, once, before anything runs.
 *
 * @param model the dense checkpoint directory (any Hadoop FS)
 * @param out the output checkpoint directory
 * @param force whether an existing {@code out} is replaced
 * @param method magnitude, Wanda, DSnoT (prune-and-grow on top of an initial mask) or SparseGPT
 * @param target the sparsity of weights without a per-layer rule
 * @param sparsityPerLayer a JSON file of per-layer rules ({@code {"name regex": ratio or "N:M"}}), or null
 * @param calibration the calibration text or token file
 * @param nsamples calibration sequences
 * @param seqlen tokens per calibration sequence, or null for the model's positions (at most 2048)
 * @param seed the seed of the calibration sample
 * @param ignore weights whose name matches are left dense, or null
 * @param partitions calibration partitions, or null for Spark's default parallelism (at most {@code nsamples})
 * @param calibBatch sequences per forward pass, at most (fewer when a pass's activations would not fit an executor)
 * @param tokenizer the tokenizer for calibration text ({@code byte} or a directory), or null for the model's
 * @param dsnotInitial the mask DSnoT starts from
 * @param dsnot DSnoT's cycle limit, threshold, variance power and sign check
 * @param dsnotSkipLayer the linears DSnoT leaves at the initial mask: mlp, attn or none
 * @param sparseGpt SparseGPT's dampening and block size (also the OBS update's)
 * @param update what happens to the kept weights of a magnitude, Wanda or DSnoT mask: none, or obs (SparseGPT's
 *               sweep with the mask held fixed)
 * @param owl OWL's settings when the blocks' sparsities follow their outlier ratios, or null for a uniform target
 * @param recovery block-wise recovery after each block is pruned: Adam steps, step size and batch (0 steps: none)
 * @param exportMetadata whether the output's config.json carries the compressed-tensors sparsity block
 */
@JsonDeserialize(builder = PruneSpec.Builder.class)
public record PruneSpec(String model, String out, boolean force, LayerwisePruner.Method method,
                        SparsityPattern target, String sparsityPerLayer, DataInput calibration, int nsamples,
                        Integer seqlen, long seed, Pattern ignore, Integer partitions, int calibBatch, String tokenizer,
                        MaskCriterion dsnotInitial, DSnoT.Options dsnot, DSnoT.SkipLayers dsnotSkipLayer,
                        SparseGPT.Options sparseGpt, LayerwisePruner.WeightUpdate update,
                        OutlierWeighting.Options owl, BlockRecovery.Options recovery, ExportMetadata exportMetadata) {
    /** The methods whose settings are keyed by their name ({@code dsnot-...}, {@code sparsegpt-...}). */
    static final List<String> METHODS_WITH_SETTINGS = List.of("dsnot", "sparsegpt");

    /** Validates every setting; a value out of range is an {@link org.sparseft.InvalidSettingException} naming it. */
    public PruneSpec {
        required("model", model);
        required("out", out);
        required("method", method);
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(calibration, "calibration");
        Objects.requireNonNull(dsnotInitial, "dsnotInitial");
        Objects.requireNonNull(dsnot, "dsnot");
        Objects.requireNonNull(sparseGpt, "sparseGpt");
        if (nsamples < 1 || calibBatch < 1 || (partitions != null && partitions < 1)) {
            throw new InvalidSettingException("{nsamples}, {calib-batch} and {partitions} must be at least 1");
        }
        if (method == LayerwisePruner.Method.SPARSEGPT) {
            SparseGPT.checkBlockSize(sparseGpt.blockSize(), target);
        }
        Objects.requireNonNull(dsnotSkipLayer, "dsnotSkipLayer");
        Objects.requireNonNull(update, "update");
        Objects.requireNonNull(recovery, "recovery");
        Objects.requireNonNull(exportMetadata, "exportMetadata");
        LayerwisePruner.checkUpdate(method, update);
        if (owl != null) {
            LayerwisePruner.checkOwl(owl, target, sparsityPerLayer != null);
        }
    }

    private static void required(String key, Object value) {
        if (value == null) {
            throw new InvalidSettingException("{" + key + "} is required");
        }
    }

    /** A builder with every default; {@code model}, {@code out} and {@code method} are required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The settings of a prune, each a method named after its key; the field initialisers are the defaults (the
     * command line shows them from here). Settings of one method given with another are refused at {@link #build}.
     */
    @JsonPOJOBuilder(withPrefix = "")
    public static final class Builder {
        private String model;
        private String out;
        private boolean force;
        private LayerwisePruner.Method method;
        private Double sparsity;
        private String pattern;
        private String calib;
        private String tokens;
        private String sparsityPerLayer;
        private int nsamples = 128;
        private Integer seqlen;
        private long seed;
        private String ignore;
        private Integer partitions;
        private int calibBatch = 8;
        private String tokenizer;
        private MaskCriterion dsnotInitial = MaskCriterion.WANDA;
        private int dsnotMaxCycles = DSnoT.Options.DEFAULT.maxCycles();
        private double dsnotUpdateThreshold = DSnoT.Options.DEFAULT.updateThreshold();
        private double dsnotPowOfVarRegrowing = DSnoT.Options.DEFAULT.powOfVarRegrowing();
        private DSnoT.SkipLayers dsnotSkipLayer = DSnoT.SkipLayers.MLP;
        private Boolean dsnotSignCheck = DSnoT.Options.DEFAULT.signCheck();
        private double sparsegptPercdamp = SparseGPT.Options.DEFAULTS.percDamp();
        private int sparsegptBlocksize = SparseGPT.Options.DEFAULTS.blockSize();
        private LayerwisePruner.WeightUpdate update = LayerwisePruner.WeightUpdate.NONE;
        private SparsityProfile sparsityProfile = SparsityProfile.UNIFORM;
        private double owlM = OutlierWeighting.Options.DEFAULTS.m();
        private double owlLambda = OutlierWeighting.Options.DEFAULTS.lambda();
        private int recoverSteps = BlockRecovery.Options.NONE.steps();
        private double recoverLr = BlockRecovery.Options.NONE.learningRate();
        private int recoverBatch = BlockRecovery.Options.NONE.batch();
        private int recoverHoldout = BlockRecovery.Options.NONE.holdout();
        private ExportMetadata exportMetadata = ExportMetadata.NONE;
        @com.fasterxml.jackson.annotation.JsonIgnore
        private final Set<String> given = new LinkedHashSet<>();

        private Builder() {
        }

        /** The dense checkpoint directory (any Hadoop FS). */
        public Builder model(String dir) {
            model = dir;
            return this;
        }

        /** The output checkpoint directory. */
        public Builder out(String dir) {
            out = dir;
            return this;
        }

        /** Whether an existing {@code out} is replaced. */
        public Builder force(boolean replace) {
            force = replace;
            return this;
        }

        /** Magnitude, Wanda, DSnoT (prune-and-grow on top of an initial mask) or SparseGPT. */
        public Builder method(LayerwisePruner.Method m) {
            method = m;
            return this;
        }

        /**
         * Unstructured: the fraction pruned (Wanda, DSnoT: of each row; magnitude, SparseGPT's blocks: of each matrix).
         */
        public Builder sparsity(Double ratio) {
            sparsity = ratio;
            return this;
        }

        /** N:M, N pruned in every M consecutive inputs of a row. */
        public Builder pattern(String nOutOfM) {
            pattern = nOutOfM;
            return this;
        }

        /** Calibration text on any Hadoop FS. */
        public Builder calib(String uri) {
            calib = uri;
            return this;
        }

        /** Pre-tokenized calibration (.txt or .safetensors). */
        public Builder tokens(String file) {
            tokens = file;
            return this;
        }

        /** A JSON file of per-layer rules ({@code {"name regex": ratio or "N:M"}}), or null. */
        public Builder sparsityPerLayer(String file) {
            sparsityPerLayer = file;
            return this;
        }

        /** Calibration sequences. */
        public Builder nsamples(int n) {
            nsamples = n;
            return this;
        }

        /** Tokens per calibration sequence, or null for the model's positions (at most 2048). */
        public Builder seqlen(Integer tokensPerSequence) {
            seqlen = tokensPerSequence;
            return this;
        }

        /** The seed of the calibration sample. */
        public Builder seed(long s) {
            seed = s;
            return this;
        }

        /** Weights whose name matches are left dense, or null. */
        public Builder ignore(String regex) {
            ignore = regex;
            return this;
        }

        /** Calibration partitions, or null for Spark's default parallelism (at most {@code nsamples}). */
        public Builder partitions(Integer p) {
            partitions = p;
            return this;
        }

        /** Sequences per forward pass. */
        public Builder calibBatch(int sequences) {
            calibBatch = sequences;
            return this;
        }

        /** The tokenizer for calibration text ({@code byte} or a directory), or null for the model's. */
        public Builder tokenizer(String tokenizerOrByte) {
            tokenizer = tokenizerOrByte;
            return this;
        }

        /** The mask DSnoT starts from. */
        public Builder dsnotInitial(MaskCriterion criterion) {
            given.add("dsnot-initial");
            dsnotInitial = criterion;
            return this;
        }

        /** DSnoT: the most prune-and-grow swaps per row. */
        public Builder dsnotMaxCycles(int cycles) {
            given.add("dsnot-max-cycles");
            dsnotMaxCycles = cycles;
            return this;
        }

        /** DSnoT: a row stops once its reconstruction error is within this of zero. */
        public Builder dsnotUpdateThreshold(double threshold) {
            given.add("dsnot-update-threshold");
            dsnotUpdateThreshold = threshold;
            return this;
        }

        /** DSnoT: the power of the input variance in the regrowth score. */
        public Builder dsnotPowOfVarRegrowing(double power) {
            given.add("dsnot-pow-of-var-regrowing");
            dsnotPowOfVarRegrowing = power;
            return this;
        }

        /** The linears DSnoT leaves at the initial mask: mlp, attn or none. */
        public Builder dsnotSkipLayer(DSnoT.SkipLayers linears) {
            given.add("dsnot-skip-layer");
            dsnotSkipLayer = linears;
            return this;
        }

        /** DSnoT: whether a swap must reduce the row's expected error in sign, or null for the reference's default. */
        public Builder dsnotSignCheck(Boolean check) {
            given.add("dsnot-sign-check");
            dsnotSignCheck = check;
            return this;
        }

        /** SparseGPT: the dampening added to the Hessian's diagonal, as a fraction of its mean. */
        public Builder sparsegptPercdamp(double fraction) {
            given.add("sparsegpt-percdamp");
            sparsegptPercdamp = fraction;
            return this;
        }

        /** SparseGPT: columns per lazy-update block (a multiple of M for N:M). */
        public Builder sparsegptBlocksize(int columns) {
            given.add("sparsegpt-blocksize");
            sparsegptBlocksize = columns;
            return this;
        }

        /**
         * What happens to the kept weights of a magnitude, Wanda or DSnoT mask: none (the default), or obs, SparseGPT's
         * column sweep with the mask held fixed (its {@code sparsegpt-percdamp} and {@code sparsegpt-blocksize}
         * apply).
         */
        public Builder update(LayerwisePruner.WeightUpdate kind) {
            update = kind;
            return this;
        }

        /**
         * How the target spreads over the decoder blocks: uniform (the default), or owl (blocks with more outlier
         * Wanda scores keep more weights; unstructured targets only).
         */
        public Builder sparsityProfile(SparsityProfile profile) {
            sparsityProfile = profile;
            return this;
        }

        /** OWL: a Wanda score is an outlier above this multiple of its block's mean score. */
        public Builder owlM(double multiple) {
            given.add("owl-m");
            owlM = multiple;
            return this;
        }

        /** OWL: the blocks' sparsities spread over twice this around the target. */
        public Builder owlLambda(double halfSpread) {
            given.add("owl-lambda");
            owlLambda = halfSpread;
            return this;
        }

        /**
         * Block-wise recovery: Adam steps on each pruned block, masks fixed, towards the dense block's outputs on the
         * calibration sequences (0, the default: none).
         */
        public Builder recoverSteps(int steps) {
            recoverSteps = steps;
            return this;
        }

        /** Block-wise recovery: Adam's step size. */
        public Builder recoverLr(double stepSize) {
            given.add("recover-lr");
            recoverLr = stepSize;
            return this;
        }

        /** Block-wise recovery: calibration sequences per step, taken in turn. */
        public Builder recoverBatch(int sequences) {
            given.add("recover-batch");
            recoverBatch = sequences;
            return this;
        }

        /**
         * Block-wise recovery: the last calibration sequences, this many (at most a quarter of the sample), are held
         * out; each block keeps the step's weights with the lowest error on them, its one-shot weights when no step
         * improves on them (0: the last step's weights, every sequence trains).
         */
        public Builder recoverHoldout(int sequences) {
            given.add("recover-holdout");
            recoverHoldout = sequences;
            return this;
        }

        /** The spec, validated. */
        /**
         * What the output's config.json says about its sparsity: none (the default; a plain checkpoint every loader
         * reads) or compressed-tensors (its sparsity block, for stacks that still read it).
         */
        public Builder exportMetadata(ExportMetadata kind) {
            exportMetadata = kind;
            return this;
        }

        public PruneSpec build() {
            MethodSettings.refuseUnless(sparsityProfile == SparsityProfile.OWL, given, "owl-",
                    "to {sparsity-profile} owl only");
            MethodSettings.refuseUnless(recoverSteps != 0, given, "recover-", "with {recover-steps} above 0 only");
            if (method != null) {
                Set<String> foreign = new LinkedHashSet<>(given);
                if (update == LayerwisePruner.WeightUpdate.OBS) { // the update's damping and block size
                    foreign.removeIf(k -> k.startsWith("sparsegpt-"));
                }
                MethodSettings.refuseForeign(foreign, method, METHODS_WITH_SETTINGS);
            }
            required("method", method);
            if ((sparsity == null) == (pattern == null)) {
                throw new InvalidSettingException("give one of {sparsity} or {pattern}"
                        + (sparsity != null ? ", not both" : ""));
            }
            SparsityPattern target = pattern != null ? SparsityPattern.parseNOutOfM(pattern)
                    : new SparsityPattern.Unstructured(sparsity);
            Pattern ignored;
            try {
                ignored = ignore == null ? null : Pattern.compile(ignore);
            } catch (PatternSyntaxException e) {
                throw InvalidSettingException.of("ignore", ignore, "not a regular expression (" + e.getDescription()
                        + ")");
            }
            DataInput calibration = DataInput.either("calib", calib, "tokens", tokens, null, null);
            return new PruneSpec(model, out, force, method, target, sparsityPerLayer, calibration, nsamples, seqlen,
                    seed, ignored, partitions, calibBatch, tokenizer, dsnotInitial,
                    new DSnoT.Options(dsnotMaxCycles, dsnotUpdateThreshold, dsnotPowOfVarRegrowing, dsnotSignCheck),
                    dsnotSkipLayer, new SparseGPT.Options(sparsegptPercdamp, sparsegptBlocksize), update,
                    sparsityProfile == SparsityProfile.OWL ? new OutlierWeighting.Options(owlM, owlLambda) : null,
                    new BlockRecovery.Options(recoverSteps, recoverLr, recoverBatch, recoverHoldout), exportMetadata);
        }
    }
}
