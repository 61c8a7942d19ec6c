package org.sparseft.jobs;

import org.sparseft.jobs.service.Progress;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;
import org.sparseft.data.TokenFiles;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.data.TextFormat;
import org.sparseft.driver.data.TextSource;
import org.sparseft.driver.data.TokenBlocks;
import org.sparseft.BadInputException;
import org.sparseft.io.Storage;
import org.sparseft.io.tokenizer.Tokenizers;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.util.List;

/**
 * Where a job's tokens come from, shared by every command that reads data: text ({@code --data}, tokenized on
 * Spark) or a pre-tokenized file ({@code --tokens}). Either way the result is fixed-length blocks in a fixed order.
 */
public final class InputOptions {
    @ArgGroup(exclusive = true, multiplicity = "1", heading = "Input, one of:%n")
    Source source = new Source();

    static final class Source {
        @Option(names = "--data", paramLabel = "URI",
                description = "Text: a file, directory or glob on any Hadoop FS (file://, hdfs://, ...).")
        String data;

        @Option(names = "--tokens", paramLabel = "FILE",
                description = "Pre-tokenized: .txt (whitespace-separated ids, one sequence per line) or .safetensors"
                        + " (integer input_ids or tokens [N, T]). Sequences are joined and re-cut to --seqlen.")
        String tokens;
    }

    @Option(names = "--format", defaultValue = "auto", paramLabel = "FMT",
            description = "Text format: auto (by extension), text (documents separated by empty lines), jsonl or"
                    + " parquet.")
    String format;

    @Option(names = "--text-field", defaultValue = TextSource.DEFAULT_TEXT_FIELD, paramLabel = "NAME",
            description = "The text field of JSON Lines / column of Parquet.")
    String textField;

    /** Text input at {@code uri}, as the options would give it. */
    public static InputOptions text(String uri) {
        InputOptions o = new InputOptions();
        o.source.data = uri;
        o.format = "auto";
        o.textField = TextSource.DEFAULT_TEXT_FIELD;
        return o;
    }

    /** A pre-tokenized file, as the options would give it. */
    public static InputOptions tokens(String file) {
        InputOptions o = text(null);
        o.source.tokens = file;
        return o;
    }

    public String uri() {
        return source.data != null ? source.data : source.tokens;
    }

    /**
     * The tokenizer to read this input with against a model: {@code --tokenizer} when given, else the model
     * directory's own; text input is refused (naming {@code --model}) when there is neither.
     */
    String tokenizerFor(Storage storage, String tokenizerOption, String modelOption, String modelPath)
            throws IOException {
        if (source.data != null && tokenizerOption == null && !Tokenizers.present(storage, modelPath)) {
            throw new BadInputException("--model " + modelOption + ": has no tokenizer files; give --tokenizer or"
                    + " --tokens");
        }
        return tokenizerOption != null ? Tokenizers.qualify(storage, tokenizerOption) : modelPath;
    }

    /** Blocks (cached: unpersist when done) and the input's size: documents of text, or sequences of a token file. */
    public record Blocks(JavaRDD<int[]> blocks, long count, long units, String unitName) {
    }

    /**
     * Token blocks of {@code seqLen}; text is tokenized with {@code tokenizer}, token files are checked against its
     * vocabulary ({@code vocabSize}).
     */
    public Blocks blocks(SparkSession spark, String tokenizer, int vocabSize, int seqLen, Progress progress)
            throws Exception {
        if (source.tokens != null) {
            progress.step("reading token file " + source.tokens);
            List<int[]> rows = TokenFiles.read(SparkSessions.storage(spark), source.tokens, vocabSize);
            int partitions = Math.max(1, spark.sparkContext().defaultParallelism());
            JavaRDD<int[]> seqs = new org.apache.spark.api.java.JavaSparkContext(spark.sparkContext())
                    .parallelize(rows, partitions);
            TokenBlocks.Result r = TokenBlocks.blocks(seqs, seqLen);
            return new Blocks(r.blocks(), r.count(), r.sequences(), "sequences");
        }
        progress.step("reading and tokenizing " + source.data + " with " + tokenizer);
        var docs = TextSource.documents(spark, source.data, TextFormat.parse(format, source.data), textField);
        TokenBlocks.Result r = TokenBlocks.blocks(TokenBlocks.tokenize(docs, tokenizer), seqLen);
        progress.step(r.sequences() + " documents, " + r.tokens() + " tokens, " + r.count() + " blocks");
        return new Blocks(r.blocks(), r.count(), r.sequences(), "documents");
    }
}
