package org.sparseft.jobs.tokenize;

import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonPOJOBuilder;
import org.sparseft.InvalidSettingException;
import org.sparseft.driver.data.TextSource;
import org.sparseft.io.tokenizer.Tokenizers;
import org.sparseft.jobs.service.DataInput;

/**
 * Text (or a token file) cut into fixed-length token blocks: what {@code sparseft tokenize}, a recipe's data stage
 * and {@link org.sparseft.jobs.SparseFT#tokenize} run. Made by {@link #builder()}, whose keys are the command line's
 * flags without dashes; validated here, once, before anything runs.
 *
 * @param input the text to tokenize, or a token file to re-cut
 * @param tokenizer {@code byte}, or a directory with tokenizer.json or vocab.json + merges.txt (a model directory)
 * @param seqlen tokens per block
 * @param out the output .safetensors file (any Hadoop FS)
 * @param force whether an existing {@code out} is replaced
 */
@JsonDeserialize(builder = TokenizeSpec.Builder.class)
public record TokenizeSpec(DataInput input, String tokenizer, int seqlen, String out, boolean force) {
    /** Validates every setting; a value out of range is an {@link org.sparseft.InvalidSettingException} naming it. */
    public TokenizeSpec {
        if (input == null) {
            throw new InvalidSettingException("give one of {data} or {tokens}");
        }
        required("tokenizer", tokenizer);
        required("out", out);
        if (!out.endsWith(".safetensors")) {
            throw InvalidSettingException.of("out", out, "expected a file name ending in .safetensors");
        }
        if (seqlen < 2) {
            throw InvalidSettingException.of("seqlen", seqlen, "expected at least 2");
        }
    }

    private static void required(String key, Object value) {
        if (value == null) {
            throw new InvalidSettingException("{" + key + "} is required");
        }
    }

    /** A builder with every default; an input and {@code out} are required. */
    public static Builder builder() {
        return new Builder();
    }

    /** The settings of a tokenization, each a method named after its key; the field initialisers are the defaults. */
    @JsonPOJOBuilder(withPrefix = "")
    public static final class Builder {
        private String data;
        private String tokens;
        private String format = "auto";
        private String textField = TextSource.DEFAULT_TEXT_FIELD;
        private String tokenizer = Tokenizers.BYTE;
        private int seqlen = 256;
        private String out;
        private boolean force;

        private Builder() {
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

        /** {@code byte}, or a tokenizer directory. */
        public Builder tokenizer(String byteOrDir) {
            tokenizer = byteOrDir;
            return this;
        }

        /** Tokens per block. */
        public Builder seqlen(int tokensPerBlock) {
            seqlen = tokensPerBlock;
            return this;
        }

        /** The output .safetensors file. */
        public Builder out(String file) {
            out = file;
            return this;
        }

        /** Whether an existing {@code out} is replaced. */
        public Builder force(boolean replace) {
            force = replace;
            return this;
        }

        /** The spec, validated. */
        public TokenizeSpec build() {
            return new TokenizeSpec(DataInput.either("data", data, "tokens", tokens, format, textField), tokenizer,
                    seqlen, out, force);
        }
    }
}
