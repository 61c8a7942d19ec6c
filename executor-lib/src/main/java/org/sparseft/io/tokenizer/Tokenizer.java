package org.sparseft.io.tokenizer;

import java.util.Map;

/** Text to token ids and back. Implementations are immutable apart from internal caches, and thread-safe. */
public interface Tokenizer {

    int[] encode(String text);

    String decode(int[] ids);

    int vocabSize();

    /** The end-of-text id appended between documents, or -1 if the tokenizer has none. */
    int eosId();

    /**
     * A document's ids as they enter a token stream of many documents: by default its text's ids followed by the
     * end-of-text id (when there is one); hub tokenizers add what their post-processor says.
     */
    default int[] encodeDocument(String text) {
        int[] ids = encode(text);
        int eos = eosId();
        if (eos < 0) {
            return ids;
        }
        int[] out = java.util.Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = eos;
        return out;
    }

    /** A short description for reports: kind and vocabulary size. */
    String describe();

    /** The files that reproduce this tokenizer in a Hugging Face model directory, by file name. */
    Map<String, byte[]> files();
}
