/**
 * Decoder-only transformers with hand-written forward and backward passes: the families' configurations (validated
 * records read from a Hugging Face {@code config.json}), their parameters by Hugging Face name in compute layout,
 * and the models themselves; the layers are in {@code model.ops}.
 */
package org.sparseft.model;
