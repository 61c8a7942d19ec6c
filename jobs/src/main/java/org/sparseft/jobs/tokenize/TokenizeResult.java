package org.sparseft.jobs.tokenize;

/**
 * What a tokenization wrote.
 *
 * @param source the input, as given
 * @param tokenizer the tokenizer used, qualified as tasks resolve it ({@code byte} or a directory URI)
 * @param tokenizerDescription what the tokenizer is ("byte-level BPE, 257 tokens, ...")
 * @param units the input's documents (text) or sequences (a token file)
 * @param unitName {@code documents} or {@code sequences}
 * @param blocks the blocks written
 * @param seqlen tokens per block
 * @param out the written .safetensors file
 * @param seconds time spent reading, tokenizing and writing
 */
public record TokenizeResult(String source, String tokenizer, String tokenizerDescription, long units,
                             String unitName, int blocks, int seqlen, String out, double seconds) {
    /** Tokens written: {@code blocks} x {@code seqlen}. */
    public long tokens() {
        return (long) blocks * seqlen;
    }
}
