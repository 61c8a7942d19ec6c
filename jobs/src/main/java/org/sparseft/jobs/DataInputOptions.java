package org.sparseft.jobs;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Option;

/**
 * The input flags of the commands whose spec reads one {@link org.sparseft.jobs.service.DataInput} (evaluate,
 * tokenize), for parsing and help only: the values go to the spec by key ({@code data}, {@code tokens},
 * {@code format}, {@code text-field}; see {@link CommandSettings#given}), and the defaults the help shows come from
 * the spec's builder, where they are declared.
 */
final class DataInputOptions {
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

    @Option(names = "--format", paramLabel = "FMT",
            description = "Text format: auto (by extension), text (documents separated by empty lines), jsonl or"
                    + " parquet.")
    String format;

    @Option(names = "--text-field", paramLabel = "NAME",
            description = "The text field of JSON Lines / column of Parquet.")
    String textField;
}
