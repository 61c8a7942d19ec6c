package org.sparseft.jobs.finetune;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonPOJOBuilder;
import org.sparseft.InvalidSettingException;
import org.sparseft.ast.AstOptions;
import org.sparseft.ast.Distillation;
import org.sparseft.driver.prune.LayerwisePruner;
import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.jobs.service.DataInput;
import org.sparseft.jobs.spec.MethodSettings;
import org.sparseft.jobs.training.TrainingSettings;
import org.sparseft.pst.PstOptions;
import org.sparseft.sparsity.ExportMetadata;
import org.sparseft.sparsity.OutlierWeighting;
import org.sparseft.sparsity.SparsityPattern;
import org.sparseft.sparsity.SparsityProfile;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Sparse fine-tuning of a checkpoint on Spark, exported as a sparse checkpoint: what {@code sparseft finetune}, a
 * recipe's finetune stage and {@link org.sparseft.jobs.SparseFT#finetune} run. Made by {@link #builder()}, whose
 * keys are the command line's flags without dashes; validated here, once, before anything runs.
 *
 * @param model the checkpoint to fine-tune (any Hadoop FS)
 * @param out the output checkpoint directory
 * @param force whether an existing {@code out} is replaced and, without resume, an earlier run's checkpoints discarded
 * @param method PST or AST
 * @param target the sparsity: unstructured (PST: of each matrix) or N:M
 * @param data the training text or token file
 * @param validation validation text or tokens for perplexity before, during and after; null for none
 * @param tokenizer the tokenizer for text ({@code byte} or a directory), or null for the model's
 * @param training the training settings, the method's defaults applied
 * @param pst PST's settings (with {@code target}); null for AST
 * @param ast AST's settings (with {@code target}, which is N:M); null for PST
 * @param owl OWL's settings when PST's blocks get outlier-weighted sparsities, or null for the target everywhere
 * @param owlNsamples training sequences OWL's dense pass runs (drawn with the training seed)
 * @param exportMetadata whether the output's config.json carries the compressed-tensors sparsity block
 */
@JsonDeserialize(builder = FinetuneSpec.Builder.class)
public record FinetuneSpec(String model, String out, boolean force, Method method, SparsityPattern target,
                           DataInput data, DataInput validation, String tokenizer, TrainingSettings training,
                           PstOptions pst, AstOptions ast, OutlierWeighting.Options owl, int owlNsamples,
                           ExportMetadata exportMetadata) {
    /** The fine-tuning methods, each with its defaults for the training settings that depend on the method. */
    public enum Method {
        /**
         * PST: the model stays frozen; per prunable linear, a low-rank importance plus row and column vectors (and a
         * low-rank weight update) are trained, and the mask keeps the highest scores at the scheduled sparsity.
         * Defaults: AdamW without weight decay and β2 0.999 as the reference; lr 1e-3 with no warm-up and a cosine
         * decay to 10% suit the small models this service trains in its demo (the reference's GPT-2-medium setting
         * is lr 1e-4, a linear schedule with 500 warm-up steps and no clipping: give lr, warmup, clip 0).
         */
        PST(new TrainingSettings.Defaults(1e-3, 0, 0, 0.999, DataParallelTrainer.Sync.GRAD)),
        /**
         * AST: every weight trains under N:M masks re-selected by magnitude, pruned weights decay, the dense input
         * model is the teacher. Defaults from its GPT-2 path: AdamW β2 0.95, weight decay 0.1, clipping at 1. The
         * reference's lr 2e-4 with 2,000 warm-up steps belongs to a 40,000-step run; the demo's few hundred steps
         * start at the peak rate (give warmup for longer runs). Parameter averaging every {@code every} steps: on
         * the demo it reached the same perplexity as gradient sums every step (5.1174 against 5.1195) in 13% less
         * time per step (docs/results.md), and it moves a third of the bytes.
         */
        AST(new TrainingSettings.Defaults(2e-4, 0, 0.1, 0.95, DataParallelTrainer.Sync.AVERAGE));

        private final TrainingSettings.Defaults defaults;

        Method(TrainingSettings.Defaults defaults) {
            this.defaults = defaults;
        }

        /** The method's lr, warmup, weight decay, β2 and sync when not given. */
        public TrainingSettings.Defaults defaults() {
            return defaults;
        }
    }

    /** The methods whose settings are keyed by their name ({@code pst-...}, {@code ast-...}). */
    static final List<String> METHODS_WITH_SETTINGS = List.of("pst", "ast");

    /** Validates every setting; a value out of range is an {@link org.sparseft.InvalidSettingException} naming it. */
    public FinetuneSpec {
        required("model", model);
        required("out", out);
        required("method", method);
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(exportMetadata, "exportMetadata");
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(training, "training");
        if ((method == Method.PST) != (pst != null) || (method == Method.AST) != (ast != null)) {
            throw new IllegalArgumentException("the settings of exactly the method " + method + " are expected");
        }
        if (owl != null) {
            LayerwisePruner.checkOwl(owl, target, false);
            if (owlNsamples < 1) {
                throw InvalidSettingException.of("owl-nsamples", owlNsamples, "expected at least 1 sequence");
            }
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
     * The settings of a fine-tune, each a method named after its key; the field initialisers (here and in
     * {@link TrainingSettings.Builder}) are the defaults, and {@link Method#defaults()} those that depend on the
     * method. Settings of one method given with another are refused at {@link #build}.
     */
    @JsonPOJOBuilder(withPrefix = "")
    public static final class Builder extends TrainingSettings.Builder<Builder> {
        private static final PstOptions PST_DEFAULTS = PstOptions.defaults(null);

        private String model;
        private Method method;
        private Double sparsity;
        private String pattern;
        private String tokenizer;
        private int pstWeightRank = PST_DEFAULTS.weightRank();
        private int pstMaskRank = PST_DEFAULTS.maskRank();
        private double pstAlpha1 = PST_DEFAULTS.alpha1();
        private double pstAlpha2 = PST_DEFAULTS.alpha2();
        private double pstBeta = PST_DEFAULTS.beta();
        private double pstInitialWarmup = PST_DEFAULTS.initialWarmup();
        private double pstFinalWarmup = PST_DEFAULTS.finalWarmup();
        private int astReselectEvery = 10;
        private double astDecay = 6e-5;
        private double astDecayRamp = 0.25;
        private double astTemperature = Distillation.GPT2.temperature();
        private double astTaskWeight = Distillation.GPT2.taskWeight();
        private double astKlWeight = Distillation.GPT2.klWeight();
        private int astSlorbGroup = 0;
        private SparsityProfile sparsityProfile = SparsityProfile.UNIFORM;
        private double owlM = OutlierWeighting.Options.DEFAULTS.m();
        private double owlLambda = OutlierWeighting.Options.DEFAULTS.lambda();
        private int owlNsamples = 128;
        private ExportMetadata exportMetadata = ExportMetadata.NONE;
        @JsonIgnore
        private final Set<String> given = new LinkedHashSet<>();

        private Builder() {
        }

        @Override
        protected Builder self() {
            return this;
        }

        /** The checkpoint to fine-tune. */
        public Builder model(String dir) {
            model = dir;
            return this;
        }

        /** PST or AST. */
        public Builder method(Method m) {
            method = m;
            return this;
        }

        /** Unstructured: the fraction pruned (PST: of each matrix); one of this or {@link #pattern}. */
        public Builder sparsity(Double ratio) {
            sparsity = ratio;
            return this;
        }

        /** N:M, N pruned in every M consecutive inputs of a row; one of this or {@link #sparsity}. */
        public Builder pattern(String nOutOfM) {
            pattern = nOutOfM;
            return this;
        }

        /** The tokenizer for text ({@code byte} or a directory); default: the model's. */
        public Builder tokenizer(String tokenizerOrByte) {
            tokenizer = tokenizerOrByte;
            return this;
        }

        /** Rank of PST's weight update U·V (0: none). */
        public Builder pstWeightRank(int rank) {
            given.add("pst-weight-rank");
            pstWeightRank = rank;
            return this;
        }

        /** Rank of PST's importance term A·B. */
        public Builder pstMaskRank(int rank) {
            given.add("pst-mask-rank");
            pstMaskRank = rank;
            return this;
        }

        /** Weight of A·B in PST's importance. */
        public Builder pstAlpha1(double weight) {
            given.add("pst-alpha1");
            pstAlpha1 = weight;
            return this;
        }

        /** Weight of PST's row/column vectors. */
        public Builder pstAlpha2(double weight) {
            given.add("pst-alpha2");
            pstAlpha2 = weight;
            return this;
        }

        /** Scale of PST's weight update U·V. */
        public Builder pstBeta(double scale) {
            given.add("pst-beta");
            pstBeta = scale;
            return this;
        }

        /** Fraction of steps at sparsity 0. */
        public Builder pstInitialWarmup(double fraction) {
            given.add("pst-initial-warmup");
            pstInitialWarmup = fraction;
            return this;
        }

        /** Fraction of steps at the target. */
        public Builder pstFinalWarmup(double fraction) {
            given.add("pst-final-warmup");
            pstFinalWarmup = fraction;
            return this;
        }

        /** Steps between magnitude re-selections of AST's N:M masks (0: keep the initial masks). */
        public Builder astReselectEvery(int steps) {
            given.add("ast-reselect-every");
            astReselectEvery = steps;
            return this;
        }

        /** λ_max of the decay λ(t)·(1 − M) ⊙ W added to pruned weights' gradients. */
        public Builder astDecay(double lambdaMax) {
            given.add("ast-decay");
            astDecay = lambdaMax;
            return this;
        }

        /** Fraction of the steps over which λ rises linearly from 0 to λ_max. */
        public Builder astDecayRamp(double fraction) {
            given.add("ast-decay-ramp");
            astDecayRamp = fraction;
            return this;
        }

        /** Distillation temperature τ. */
        public Builder astTemperature(double tau) {
            given.add("ast-temperature");
            astTemperature = tau;
            return this;
        }

        /** Weight of the next-token loss. */
        public Builder astTaskWeight(double weight) {
            given.add("ast-task-weight");
            astTaskWeight = weight;
            return this;
        }

        /** Weight of the τ²-scaled KL to the teacher (0: no teacher). */
        public Builder astKlWeight(double weight) {
            given.add("ast-kl-weight");
            astKlWeight = weight;
            return this;
        }

        /** SLoRB group size (the reference uses 16; 0: no SLoRB). */
        public Builder astSlorbGroup(int k) {
            given.add("ast-slorb-group");
            astSlorbGroup = k;
            return this;
        }

        /**
         * How an unstructured PST target spreads over the decoder blocks: uniform (the default), or owl (blocks with
         * more outlier Wanda scores in a dense pass keep more weights; the mean stays the target).
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

        /** OWL: training sequences its dense pass runs. */
        public Builder owlNsamples(int sequences) {
            given.add("owl-nsamples");
            owlNsamples = sequences;
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

        public FinetuneSpec build() {
            required("method", method);
            MethodSettings.refuseUnless(sparsityProfile == SparsityProfile.OWL, given, "owl-",
                    "to {sparsity-profile} owl only");
            if ((sparsity == null) == (pattern == null)) {
                throw new InvalidSettingException("give one of {sparsity} or {pattern}"
                        + (sparsity != null ? ", not both" : ""));
            }
            SparsityPattern target = pattern != null ? SparsityPattern.parseNOutOfM(pattern)
                    : new SparsityPattern.Unstructured(sparsity);
            PstOptions pst = null;
            AstOptions ast = null;
            if (method == Method.PST) {
                pst = new PstOptions(target, pstWeightRank, pstMaskRank, pstAlpha1, pstAlpha2, pstBeta,
                        pstInitialWarmup, pstFinalWarmup);
            } else {
                if (!(target instanceof SparsityPattern.NOutOfM nm)) {
                    throw new InvalidSettingException("{method} ast selects N:M masks: give {pattern} N:M (2:4 in"
                            + " the paper), not {sparsity}");
                }
                ast = new AstOptions(nm, astReselectEvery, astDecay, astDecayRamp,
                        new Distillation(astTemperature, astTaskWeight, astKlWeight), astSlorbGroup);
            }
            MethodSettings.refuseForeign(given, method, METHODS_WITH_SETTINGS);
            TrainingSettings training = training(this, method.defaults());
            return new FinetuneSpec(model, outPath(), replace(), method, target, trainingData(), validationData(),
                    tokenizer, training, pst, ast,
                    sparsityProfile == SparsityProfile.OWL ? new OutlierWeighting.Options(owlM, owlLambda) : null,
                    owlNsamples, exportMetadata);
        }
    }
}
