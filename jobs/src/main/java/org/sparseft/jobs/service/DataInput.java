package org.sparseft.jobs.service;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.sparseft.InvalidSettingException;
import org.sparseft.data.TokenFiles;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.data.TextFormat;
import org.sparseft.driver.data.TextSource;
import org.sparseft.driver.data.TokenBlocks;
import org.sparseft.io.Storage;
import org.sparseft.io.tokenizer.Tokenizers;

import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Where a job's tokens come from: text (tokenized on Spark) or a pre-tokenized file. Either way the result is
 * fixed-length blocks in a fixed order.
 *
 * @param kind text or tokens
 * @param uri the text (a file, directory or glob on any Hadoop FS) or the token file (.txt or .safetensors)
 * @param format the text's format: auto (by extension), text, jsonl or parquet
 * @param textField the text field of JSON Lines, or column of Parquet
 * @param key the setting that named {@code uri}, for messages ({@code data}, {@code calib}, {@code tokens})
 */
public record DataInput(Kind kind, String uri, String format, String textField, String key) {
    /** Text to tokenize, or a token file. */
    public enum Kind {
        /** Text, tokenized on Spark. */
        TEXT,
        /** A pre-tokenized file. */
        TOKENS
    }

    /** Exactly one of text and tokens. */
    public DataInput {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(uri, "uri");
        format = format == null ? "auto" : format;
        textField = textField == null ? TextSource.DEFAULT_TEXT_FIELD : textField;
        if (kind == Kind.TEXT && !FORMATS.contains(format.toLowerCase(Locale.ROOT))) {
            throw InvalidSettingException.of("format", format, "expected auto, text, jsonl or parquet");
        }
    }

    /** The names {@code format} takes (any case); a token file has no format. */
    private static final List<String> FORMATS = List.of("auto", "text", "jsonl", "parquet");

    /** Text at {@code uri} in the format its extension says. */
    public static DataInput text(String key, String uri) {
        return new DataInput(Kind.TEXT, uri, null, null, key);
    }

    /** A pre-tokenized file. */
    public static DataInput tokens(String key, String uri) {
        return new DataInput(Kind.TOKENS, uri, null, null, key);
    }

    /**
     * One of text or tokens, whichever is given; refused (naming both keys) when both or neither are.
     */
    public static DataInput either(String textKey, String text, String tokensKey, String tokens, String format,
                                   String textField) {
        if ((text == null) == (tokens == null)) {
            throw new InvalidSettingException("give one of {" + textKey + "} or {" + tokensKey + "}"
                    + (text != null ? ", not both" : ""));
        }
        return text != null ? new DataInput(Kind.TEXT, text, format, textField, textKey)
                : new DataInput(Kind.TOKENS, tokens, format, textField, tokensKey);
    }

    /**
     * The tokenizer to read this input with against a model: {@code tokenizer} when given, else the model
     * directory's own; text input is refused (naming {@code model}) when there is neither.
     */
    public String tokenizerFor(Storage storage, String tokenizer, String model, String modelPath) throws IOException {
        if (kind == Kind.TEXT && tokenizer == null && !Tokenizers.present(storage, modelPath)) {
            throw new InvalidSettingException("{model} " + model + ": has no tokenizer files; give {tokenizer} or"
                    + " {tokens}");
        }
        return tokenizer != null ? Tokenizers.qualify(storage, tokenizer) : modelPath;
    }

    /** Blocks (cached: unpersist when done) and the input's size: documents of text, or sequences of a token file. */
    public record Blocks(JavaRDD<int[]> blocks, long count, long units, String unitName) {
        /** {@code n} distinct blocks (all when there are fewer), drawn with {@code seed}, in their original order. */
        public JavaRDD<int[]> sample(int n, long seed) {
            java.util.List<Long> all = new java.util.ArrayList<>();
            for (long i = 0; i < count; i++) {
                all.add(i);
            }
            java.util.Collections.shuffle(all, new java.util.Random(seed));
            java.util.Set<Long> chosen = new java.util.HashSet<>(all.subList(0, (int) Math.min(n, count)));
            return blocks.zipWithIndex().filter(b -> chosen.contains(b._2())).map(b -> b._1());
        }
    }

    /**
     * Token blocks of {@code seqLen}; text is tokenized with {@code tokenizer}, token files are checked against its
     * vocabulary ({@code vocabSize}).
     */
    public Blocks blocks(SparkSession spark, String tokenizer, int vocabSize, int seqLen, Progress progress)
            throws Exception {
        if (kind == Kind.TOKENS) {
            progress.step("reading token file " + uri);
            List<int[]> rows = TokenFiles.read(SparkSessions.storage(spark), uri, vocabSize);
            int partitions = Math.max(1, spark.sparkContext().defaultParallelism());
            JavaRDD<int[]> seqs = JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(rows, partitions);
            TokenBlocks.Result r = TokenBlocks.blocks(seqs, seqLen);
            return new Blocks(r.blocks(), r.count(), r.sequences(), "sequences");
        }
        int tokens = Tokenizers.load(SparkSessions.storage(spark), tokenizer).vocabSize();
        if (tokens > vocabSize) { // ids the embedding has no row for
            throw new org.sparseft.BadInputException("tokenizer " + tokenizer + " has " + tokens + " tokens, more than"
                    + " the model's vocabulary of " + vocabSize + " (config.json vocab_size)");
        }
        progress.step("reading and tokenizing " + uri + " with " + tokenizer);
        var docs = TextSource.documents(spark, uri, TextFormat.parse(format, uri), textField);
        TokenBlocks.Result r = TokenBlocks.blocks(TokenBlocks.tokenize(docs, tokenizer), seqLen);
        progress.step(r.sequences() + " documents, " + r.tokens() + " tokens, " + r.count() + " blocks");
        return new Blocks(r.blocks(), r.count(), r.sequences(), "documents");
    }

    /**
     * The first {@code count} blocks, on the driver, with nothing left cached: the validation windows of the
     * training jobs.
     */
    public List<int[]> firstBlocks(SparkSession spark, String tokenizer, int vocabSize, int seqLen, int count,
                                   Progress progress) throws Exception {
        Blocks b = blocks(spark, tokenizer, vocabSize, seqLen, progress);
        List<int[]> first = b.blocks().take(count);
        b.blocks().unpersist(false);
        return first;
    }
}
