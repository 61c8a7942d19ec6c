package org.sparseft.driver.data;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.sparseft.BadInputException;
import org.sparseft.InvalidSettingException;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.input_file_name;
import static org.apache.spark.sql.functions.monotonically_increasing_id;

/**
 * Text documents from any Hadoop file system URI (a file, a directory, or a glob), in plain text, JSON Lines or
 * Parquet, read in parallel and put in a fixed order (by file, then position in the file), so that later stages are
 * reproducible whatever the partitioning.
 */
public final class TextSource {
    public static final String DEFAULT_TEXT_FIELD = "text";
    private static final String CORRUPT = "_corrupt_record";
    private static final String SOURCE = "__sparseft_source";
    private static final String ORDINAL = "__sparseft_ordinal";
    private static final Pattern BLANK_LINES = Pattern.compile("\\n[ \\t\\r]*\\n\\s*");

    private TextSource() {
    }

    public static JavaRDD<Document> documents(SparkSession spark, String uri, TextFormat format, String textField) {
        checkExists(new HadoopStorage(spark.sparkContext().hadoopConfiguration()), uri);
        JavaRDD<Document> docs = switch (format) {
            case TEXT -> plainText(spark, uri);
            // cached: Spark refuses to query the corrupt-record column of a raw JSON file on its own
            case JSONL -> rows(uri, placed(spark.read().option("mode", "PERMISSIVE")
                    .option("columnNameOfCorruptRecord", CORRUPT).json(uri)).cache(), textField);
            case PARQUET -> rows(uri, placed(spark.read().parquet(uri)), textField);
        };
        JavaRDD<Document> sorted = docs
                .filter(d -> !d.text().isBlank())
                .sortBy(d -> d.source() + '\u0000' + String.format("%020d", d.ordinal()), true,
                        Math.max(1, docs.getNumPartitions()));
        if (sorted.isEmpty()) {
            throw BadInputException.at(uri, "no text found (empty files or an empty '" + textField + "' field)");
        }
        return sorted;
    }

    private static void checkExists(Storage storage, String uri) {
        if (uri.contains("*") || uri.contains("?") || uri.contains("[") || uri.contains("{")) {
            return; // a glob: Spark reports an empty match itself
        }
        try {
            if (!storage.exists(uri)) {
                throw BadInputException.at(uri, "data path does not exist");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot check " + uri + ": " + e.getMessage(), e);
        }
    }

    /** One row per file ({@code wholetext}), split into documents at empty lines inside the task. */
    private static JavaRDD<Document> plainText(SparkSession spark, String uri) {
        Dataset<Row> files = spark.read().option("wholetext", true).text(uri)
                .select(input_file_name().as("source"), col("value"));
        return files.javaRDD().flatMap(row -> {
            String source = row.getString(0);
            String text = row.getString(1).replace("\r\n", "\n");
            List<Document> docs = new ArrayList<>();
            long ordinal = 0;
            for (String part : BLANK_LINES.split(text)) {
                String doc = part.strip();
                if (!doc.isEmpty()) {
                    docs.add(new Document(source, ordinal++, doc + "\n"));
                }
            }
            return docs.iterator();
        });
    }

    /** Adds each row's file and position before anything else can lose them (caching does). */
    private static Dataset<Row> placed(Dataset<Row> rows) {
        return rows.withColumn(SOURCE, input_file_name()).withColumn(ORDINAL, monotonically_increasing_id());
    }

    private static JavaRDD<Document> rows(String uri, Dataset<Row> rows, String field) {
        List<String> columns = Arrays.stream(rows.columns()).filter(c -> !c.equals(SOURCE) && !c.equals(ORDINAL))
                .toList();
        if (columns.contains(CORRUPT)) {
            Dataset<Row> bad = rows.filter(col(CORRUPT).isNotNull()).select(col(SOURCE), col(CORRUPT)).limit(1);
            List<Row> first = bad.collectAsList();
            if (!first.isEmpty()) {
                String line = first.get(0).getString(1);
                throw BadInputException.at(first.get(0).getString(0), "malformed JSON line: \""
                        + (line.length() > 60 ? line.substring(0, 60) + "..." : line) + "\"");
            }
        }
        if (!columns.contains(field)) {
            throw new InvalidSettingException(InvalidSettingException.literal(uri + ": text field '" + field
                    + "' not found; columns are " + columns.stream().filter(c -> !c.equals(CORRUPT)).toList())
                    + " (choose one with {text-field})");
        }
        StructField f = rows.schema().apply(field);
        if (!f.dataType().equals(DataTypes.StringType)) {
            throw BadInputException.at(uri, "text field '" + field + "' has type " + f.dataType().simpleString()
                    + ", expected string");
        }
        return rows.select(col(SOURCE), col(ORDINAL), col(field))
                .filter(col(field).isNotNull())
                .javaRDD()
                .map(r -> new Document(r.getString(0), r.getLong(1), r.getString(2)));
    }
}
