/**
 * Tokenizers found beside a model: Hugging Face {@code tokenizer.json} or GPT-2's {@code vocab.json} and {@code
 * merges.txt} (byte-level BPE), and the byte-level fallback.
 */
package org.sparseft.io.tokenizer;
