package org.sparseft.driver.data;

import org.sparseft.InvalidSettingException;

import java.util.Locale;

/** Text input formats. */
public enum TextFormat {
    /** Plain text; documents are separated by one or more empty lines. */
    TEXT,
    /** JSON Lines: one object per line, the text in a named field. */
    JSONL,
    /** Parquet with a string column. */
    PARQUET;

    /** By file extension: .jsonl/.json, .parquet, anything else plain text. */
    public static TextFormat detect(String uri) {
        String u = uri.toLowerCase(Locale.ROOT).replaceAll("/+$", "");
        if (u.endsWith(".jsonl") || u.endsWith(".json") || u.endsWith(".jsonl.gz") || u.endsWith(".json.gz")) {
            return JSONL;
        }
        if (u.endsWith(".parquet")) {
            return PARQUET;
        }
        return TEXT;
    }

    public static TextFormat parse(String s, String uri) {
        if (s == null || s.equalsIgnoreCase("auto")) {
            return detect(uri);
        }
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw InvalidSettingException.of("format", s, "expected auto, text, jsonl or parquet");
        }
    }
}
