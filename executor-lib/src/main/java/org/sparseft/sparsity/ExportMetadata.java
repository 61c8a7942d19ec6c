package org.sparseft.sparsity;

/**
 * What a sparse export says about its sparsity inside {@code config.json}. The facts are always in
 * {@code sparsity.json} and {@code masks.safetensors} beside the weights; this only decides whether loaders see them.
 */
public enum ExportMetadata {
    /**
     * A plain Hugging Face checkpoint: {@code config.json} as the input had it, less a sparsity-only compressed-tensors
     * block (one without quantization groups), which would be stale. Every current loader reads it; vLLM refuses a
     * config with a sparsity block of any format since its sparse kernels were removed.
     */
    NONE,
    /**
     * Adds compressed-tensors' {@code quantization_config.sparsity_config} (format {@code dense}, the structure, the
     * global sparsity, the targets and the linears left dense), for stacks that still read it.
     */
    COMPRESSED_TENSORS
}
