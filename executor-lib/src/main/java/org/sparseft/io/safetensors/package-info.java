/**
 * The safetensors format: files validated in full when opened and read tensor by tensor, atomic writes, and the
 * F32/F16/BF16 encodings.
 */
package org.sparseft.io.safetensors;
