package org.sparseft.jobs;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;
import org.sparseft.driver.data.Document;
import org.sparseft.driver.data.TextFormat;
import org.sparseft.driver.data.TextSource;
import picocli.CommandLine.Option;

/** Where text comes from: the options every command that reads text shares. */
public final class TextInputOptions {
    @Option(names = "--data", required = true, paramLabel = "URI",
            description = "Text: a file, directory or glob on any Hadoop FS (file://, hdfs://, ...).")
    String data;

    @Option(names = "--format", defaultValue = "auto", paramLabel = "FMT",
            description = "auto (by extension), text (documents separated by empty lines), jsonl or parquet."
                    + "")
    String format;

    @Option(names = "--text-field", defaultValue = TextSource.DEFAULT_TEXT_FIELD, paramLabel = "NAME",
            description = "The text field of JSON Lines / column of Parquet.")
    String textField;

    /** Plain-text input at {@code uri}, as the options would give it. */
    public static TextInputOptions of(String uri) {
        TextInputOptions o = new TextInputOptions();
        o.data = uri;
        o.format = "auto";
        o.textField = TextSource.DEFAULT_TEXT_FIELD;
        return o;
    }

    public JavaRDD<Document> documents(SparkSession spark) {
        return TextSource.documents(spark, data, TextFormat.parse(format, data), textField);
    }

    public String uri() {
        return data;
    }
}
