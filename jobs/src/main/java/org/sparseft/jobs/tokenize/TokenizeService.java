package org.sparseft.jobs.tokenize;

import org.sparseft.data.TokenFiles;
import org.sparseft.io.Storage;
import org.sparseft.io.tokenizer.Tokenizer;
import org.sparseft.io.tokenizer.Tokenizers;
import org.sparseft.jobs.service.DataInput;
import org.sparseft.jobs.service.JobContext;
import org.sparseft.jobs.service.Outputs;
import org.sparseft.jobs.service.Progress;
import org.sparseft.jobs.service.SparkProgress;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a {@link TokenizeSpec}: tokenizes the text on Spark (or reads the token file), cuts it into blocks of
 * {@code seqlen} (documents joined with the end-of-text token, the tail dropped) and writes them as an I32 tensor
 * {@code input_ids} [N, seqlen] with the source, tokenizer and sizes as metadata.
 */
public final class TokenizeService {
    private TokenizeService() {
    }

    /** Runs {@code spec} on the context's session (which it neither starts nor stops); returns what was written. */
    public static TokenizeResult run(TokenizeSpec spec, JobContext context) throws Exception {
        long started = System.nanoTime();
        Storage storage = context.storage();
        Progress progress = context.progress();
        String out = spec.out();
        Outputs.checkFile(storage, "out", out, spec.force());
        String tokSpec = Tokenizers.qualify(storage, spec.tokenizer()); // tasks resolve paths elsewhere than the driver
        Tokenizer tok = Tokenizers.load(storage, tokSpec); // fail fast, on the driver, before any task runs
        DataInput input = spec.input();
        DataInput.Blocks b;
        List<int[]> collected;
        try (SparkProgress ignored = SparkProgress.of(context.spark(), progress, "tokenizing " + input.uri())) {
            b = input.blocks(context.spark(), tokSpec, tok.vocabSize(), spec.seqlen(), progress);
            collected = b.blocks().collect();
        }
        b.blocks().unpersist(false);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("source", input.uri());
        meta.put("tokenizer", tokSpec);
        meta.put("seqlen", Integer.toString(spec.seqlen()));
        meta.put(b.unitName(), Long.toString(b.units()));
        progress.step("writing " + collected.size() + " blocks to " + out);
        TokenFiles.writeBlocks(storage, out, collected, meta);
        return new TokenizeResult(input.uri(), tokSpec, tok.describe(), b.units(), b.unitName(), collected.size(),
                spec.seqlen(), out, (System.nanoTime() - started) / 1e9);
    }
}
