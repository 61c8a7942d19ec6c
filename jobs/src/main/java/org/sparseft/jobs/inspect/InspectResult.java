package org.sparseft.jobs.inspect;

import org.sparseft.io.safetensors.DType;
import org.sparseft.model.ModelConfig;

import java.util.List;

/**
 * What a Hugging Face checkpoint holds: its architecture, files and, tensor by tensor, dtype, shape and the exact
 * zeros of its floating-point values.
 *
 * @param model the checkpoint directory, as given
 * @param config the architecture its config.json describes (checked against its tensors)
 * @param files the safetensors files, in order
 * @param tensors every tensor, in the checkpoint's order
 */
public record InspectResult(String model, ModelConfig config, List<String> files, List<Tensor> tensors) {
    /** Copies the lists, so the result cannot change. */
    public InspectResult {
        files = List.copyOf(files);
        tensors = List.copyOf(tensors);
    }

    /** The floating-point values of all tensors. */
    public long values() {
        return tensors.stream().mapToLong(Tensor::values).sum();
    }

    /** The exact zeros among {@link #values()}. */
    public long zeros() {
        return tensors.stream().mapToLong(Tensor::zeros).sum();
    }

    /** The fraction of exact zeros over all floating-point values (0 when there are none). */
    public double sparsity() {
        long n = values();
        return n == 0 ? 0 : (double) zeros() / n;
    }

    /**
     * One tensor.
     *
     * @param name its name in the checkpoint
     * @param dtype its stored dtype
     * @param shape its shape as stored
     * @param floatingPoint whether its values were read (a floating-point dtype); integer tensors are not
     * @param values the values read (0 when not floating point)
     * @param zeros the exact zeros among them
     * @param nOutOfM for a floating-point matrix, the densest N:M pattern ({@code 2:4}, then {@code 4:8}) every
     *                output row conforms to (groups of consecutive inputs), or null for none or not a matrix
     */
    public record Tensor(String name, DType dtype, List<Long> shape, boolean floatingPoint, long values, long zeros,
                         String nOutOfM) {
        /** Copies the shape. */
        public Tensor {
            shape = List.copyOf(shape);
        }

        /** The fraction of exact zeros, or null when no values were read (not floating point, or empty). */
        public Double sparsity() {
            return values == 0 ? null : (double) zeros / values;
        }
    }
}
