package org.sparseft.jobs.evaluate;

import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonPOJOBuilder;
import org.sparseft.InvalidSettingException;
import org.sparseft.driver.data.TextSource;
import org.sparseft.jobs.service.DataInput;

/**
 * Perplexity of a model on non-overlapping windows of {@code seqlen} tokens (the Wanda/SparseGPT protocol): what
 * {@code sparseft evaluate}, a recipe's evaluate stage and {@link org.sparseft.jobs.SparseFT#evaluate} run. Made by
 * {@link #builder()}, whose keys are the command line's flags without dashes; validated here, once, before anything
 * runs.
 *
 * @param model the model directory (any Hadoop FS)
 * @param input the text or token file evaluated on
 * @param tokenizer the tokenizer for text ({@code byte} or a directory), or null for the model directory's
 * @param seqlen the window length, or null for the model's positions (at most 1024)
 * @param batch windows per forward pass
 * @param maxWindows evaluate only the first this many windows, or null for all
 * @param out where the result is also written as JSON, or null
 * @param dumpLogits where logits [N, T, V] (F32) and input_ids [N, T] of the first {@code dumpN} windows are written
 *                   as safetensors, or null
 * @param dumpN windows in {@code dumpLogits}
 * @param unigramFrom a token file whose token frequencies give a unigram baseline on the same windows, or null
 * @param force whether existing {@code out} and {@code dumpLogits} files are replaced
 * @param modelLoading how executors hold the model
 */
@JsonDeserialize(builder = EvaluateSpec.Builder.class)
public record EvaluateSpec(String model, DataInput input, String tokenizer, Integer seqlen, int batch,
                           Integer maxWindows, String out, String dumpLogits, int dumpN, String unigramFrom,
                           boolean force, ModelLoading modelLoading) {
    /** Validates every setting; a value out of range is an {@link org.sparseft.InvalidSettingException} naming it. */
    public EvaluateSpec {
        if (model == null) {
            throw new InvalidSettingException("{model} is required");
        }
        if (input == null) {
            throw new InvalidSettingException("give one of {data} or {tokens}");
        }
        java.util.Objects.requireNonNull(modelLoading, "modelLoading");
        if (batch < 1 || dumpN < 1 || (maxWindows != null && maxWindows < 1)) {
            throw new InvalidSettingException("{batch}, {dump-n} and {max-windows} must be at least 1");
        }
    }

    /** A builder with every default; {@code model} and an input are required. */
    public static Builder builder() {
        return new Builder();
    }

    /** The settings of an evaluation, each a method named after its key; the field initialisers are the defaults. */
    @JsonPOJOBuilder(withPrefix = "")
    public static final class Builder {
        private String model;
        private String data;
        private String tokens;
        private String format = "auto";
        private String textField = TextSource.DEFAULT_TEXT_FIELD;
        private String tokenizer;
        private Integer seqlen;
        private int batch = 4;
        private Integer maxWindows;
        private String out;
        private String dumpLogits;
        private int dumpN = 2;
        private String unigramFrom;
        private boolean force;
        private ModelLoading modelLoading = ModelLoading.AUTO;

        private Builder() {
        }

        /** The model directory. */
        public Builder model(String dir) {
            model = dir;
            return this;
        }

        /** Text: a file, directory or glob on any Hadoop FS. */
        public Builder data(String uri) {
            data = uri;
            return this;
        }

        /** Pre-tokenized: .txt (ids, one sequence per line) or .safetensors; sequences are joined and re-cut. */
        public Builder tokens(String file) {
            tokens = file;
            return this;
        }

        /** The text's format: auto (by extension), text, jsonl or parquet. */
        public Builder format(String textFormat) {
            format = textFormat;
            return this;
        }

        /** The text field of JSON Lines, or column of Parquet. */
        public Builder textField(String name) {
            textField = name;
            return this;
        }

        /** The tokenizer for {@code data}: {@code byte} or a directory (default: the model directory's). */
        public Builder tokenizer(String byteOrDir) {
            tokenizer = byteOrDir;
            return this;
        }

        /** The window length (default: the model's positions, at most 1024). */
        public Builder seqlen(Integer tokensPerWindow) {
            seqlen = tokensPerWindow;
            return this;
        }

        /** Windows per forward pass. */
        public Builder batch(int windowsPerPass) {
            batch = windowsPerPass;
            return this;
        }

        /** Evaluate only the first this many windows, or null for all. */
        public Builder maxWindows(Integer firstN) {
            maxWindows = firstN;
            return this;
        }

        /** Also write the result as JSON to this file. */
        public Builder out(String file) {
            out = file;
            return this;
        }

        /**
         * Where logits [N, T, V] (F32) and input_ids [N, T] of the first {@code dumpN} windows are written as
         * safetensors, or null.
         */
        public Builder dumpLogits(String file) {
            dumpLogits = file;
            return this;
        }

        /** Windows in {@code dumpLogits}. */
        public Builder dumpN(int windows) {
            dumpN = windows;
            return this;
        }

        /** A token file whose token frequencies give a unigram baseline on the same windows, or null. */
        public Builder unigramFrom(String tokenFile) {
            unigramFrom = tokenFile;
            return this;
        }

        /** Whether existing {@code out} and {@code dumpLogits} files are replaced. */
        public Builder force(boolean replace) {
            force = replace;
            return this;
        }

        /** How executors hold the model: whole, by block, or chosen by its size. */
        public Builder modelLoading(ModelLoading how) {
            modelLoading = how;
            return this;
        }

        /** The spec, validated. */
        public EvaluateSpec build() {
            return new EvaluateSpec(model, DataInput.either("data", data, "tokens", tokens, format, textField),
                    tokenizer, seqlen, batch, maxWindows, out, dumpLogits, dumpN, unigramFrom, force, modelLoading);
        }
    }
}
