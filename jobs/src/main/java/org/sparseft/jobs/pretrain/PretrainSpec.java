package org.sparseft.jobs.pretrain;

import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonPOJOBuilder;
import org.sparseft.InvalidSettingException;
import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.tokenizer.Tokenizers;
import org.sparseft.jobs.service.DataInput;
import org.sparseft.jobs.training.TrainingSettings;

import java.util.Objects;

/**
 * Training the architecture of a Hugging Face {@code config.json} from scratch, or on from a checkpoint's weights
 * (the dense baseline beside sparse fine-tuning), saved as a Hugging Face checkpoint: what {@code sparseft pretrain}
 * and {@link org.sparseft.jobs.SparseFT#pretrain} run. Made by {@link #builder()}, whose keys are the command line's
 * flags without dashes; validated here, once, before anything runs.
 *
 * @param config the architecture: a Hugging Face config.json (any Hadoop FS)
 * @param init a checkpoint whose weights training starts from (its architecture must be {@code config}'s), or null
 *             for a random initialisation
 * @param data the training text or token file
 * @param validation validation text or tokens for perplexity; null for none
 * @param tokenizer the tokenizer: {@code byte} or a directory
 * @param out the output model directory
 * @param force whether an existing {@code out} is replaced and, without resume, an earlier run's checkpoints discarded
 * @param dtype the saved weights' type
 * @param training the training settings, pretraining's defaults applied
 */
@JsonDeserialize(builder = PretrainSpec.Builder.class)
public record PretrainSpec(String config, String init, DataInput data, DataInput validation, String tokenizer,
                           String out, boolean force, Dtype dtype, TrainingSettings training) {
    /** Pretraining's defaults for the settings that depend on the job: the demo model was trained with them. */
    public static final TrainingSettings.Defaults DEFAULTS = new TrainingSettings.Defaults(1e-3, 100, 0.1, 0.95,
            DataParallelTrainer.Sync.GRAD);

    /** The saved weight types. */
    public enum Dtype {
        /** float32. */
        F32(DType.F32, "float32"),
        /** bfloat16, as most hub checkpoints are stored. */
        BF16(DType.BF16, "bfloat16"),
        /** float16. */
        F16(DType.F16, "float16");

        private final DType stored;
        private final String torchName;

        Dtype(DType stored, String torchName) {
            this.stored = stored;
            this.torchName = torchName;
        }

        /** The safetensors dtype written. */
        public DType stored() {
            return stored;
        }

        /** config.json's {@code torch_dtype}. */
        public String torchName() {
            return torchName;
        }
    }

    /** Validates every setting; a value out of range is an {@link org.sparseft.InvalidSettingException} naming it. */
    public PretrainSpec {
        required("config", config);
        required("out", out);
        required("tokenizer", tokenizer);
        required("dtype", dtype);
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(training, "training");
    }

    private static void required(String key, Object value) {
        if (value == null) {
            throw new InvalidSettingException("{" + key + "} is required");
        }
    }

    /** A builder with every default; {@code config} and {@code out} are required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The settings of a pretraining run, each a method named after its key; the field initialisers (here and in
     * {@link TrainingSettings.Builder}) are the defaults, and {@link #DEFAULTS} those that depend on the job.
     */
    @JsonPOJOBuilder(withPrefix = "")
    public static final class Builder extends TrainingSettings.Builder<Builder> {
        private String config;
        private String init;
        private String tokenizer = Tokenizers.BYTE;
        private Dtype dtype = Dtype.F32;

        private Builder() {
        }

        @Override
        protected Builder self() {
            return this;
        }

        /** A Hugging Face config.json. */
        public Builder config(String file) {
            config = file;
            return this;
        }

        /** Start from this checkpoint's weights instead of a random initialisation (continued training). */
        public Builder init(String dir) {
            init = dir;
            return this;
        }

        /** {@code byte} or a tokenizer directory. */
        public Builder tokenizer(String tokenizerOrByte) {
            tokenizer = tokenizerOrByte;
            return this;
        }

        /** The saved weight type. */
        public Builder dtype(Dtype type) {
            dtype = type;
            return this;
        }

        /** The spec, validated. */
        public PretrainSpec build() {
            required("dtype", dtype);
            TrainingSettings training = training(this, DEFAULTS);
            return new PretrainSpec(config, init, trainingData(), validationData(), tokenizer, outPath(), replace(),
                    dtype, training);
        }
    }
}
