package org.sparseft.jobs;

import picocli.CommandLine.Option;

/**
 * The flag of the commands that write a sparse checkpoint (prune, finetune), for parsing and help only: the value
 * goes to the job spec by key ({@link CommandSettings#given}).
 */
final class ExportOptions {
    @Option(names = "--export-metadata", paramLabel = "none|compressed-tensors", description = "What the output's"
            + " config.json says about sparsity: none (a plain Hugging Face checkpoint that transformers and vLLM load;"
            + " the figures are in sparsity.json and masks.safetensors) or compressed-tensors (adds its"
            + " quantization_config.sparsity_config block, for stacks that still read it; current vLLM refuses it).")
    String exportMetadata;
}
