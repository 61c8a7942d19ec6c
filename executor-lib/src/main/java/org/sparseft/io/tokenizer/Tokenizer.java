package org.sparseft.io.tokenizer;

import java.util.Map;

/** Text to token ids and back. Implementations are immutable apart from internal caches, and thread-safe. */
public interface Tokenizer {

    int[] encode(String text);

    String decode(int[] ids);

    int vocabSize();

    /** The end-of-text id appended between documents, or -1 if the tokenizer has none. */
    int eosId();

    /** A short description for reports: kind and vocabulary size. */
    String describe();

    /** The files that reproduce this tokenizer in a Hugging Face model directory, by file name. */
    Map<String, byte[]> files();
}
