/**
 * Hugging Face checkpoint directories: {@code config.json} read into the model configurations, single-file or
 * sharded weights read into parameters, and checkpoints written in the layout transformers and vLLM load.
 */
package org.sparseft.io.hf;
