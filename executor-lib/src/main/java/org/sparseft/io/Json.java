package org.sparseft.io;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.json.JsonMapper;

/**
 * The one JSON mapper of sparseft's files (config.json, safetensors headers, tokenizer.json, sparsity.json,
 * state.json, report.json, metrics lines). Reading is strict, since every JSON sparseft reads is a file someone may
 * have edited or truncated: a key given twice or text after the value is an error, never a silent choice.
 */
public final class Json {
    /** Reads strictly; writes one line. */
    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** Writes indented, as the documents people read (and Hugging Face's own files) are. */
    public static final ObjectWriter PRETTY = MAPPER.writerWithDefaultPrettyPrinter();

    private Json() {
    }
}
