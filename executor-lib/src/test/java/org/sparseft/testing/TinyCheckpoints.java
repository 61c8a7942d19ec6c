package org.sparseft.testing;

import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.io.tokenizer.ByteLevelBpe;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.OptConfig;
import org.sparseft.model.ops.Rope;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Tiny checkpoints in the exact Hugging Face layout, with seeded random weights, written by test code. */
public final class TinyCheckpoints {
    private TinyCheckpoints() {
    }

    /** GPT-2 with the byte tokenizer's vocabulary (257), 2 layers, d = 16, 2 heads. */
    public static Gpt2Config gpt2() {
        return Gpt2Config.of(257, 32, 16, 2, 2);
    }

    /** LLaMA with grouped-query attention (4 heads, 2 KV heads), untied head. */
    public static LlamaConfig llama() {
        return LlamaConfig.of(257, 32, 16, 40, 2, 4, 2, false);
    }

    /** Mistral: the LLaMA layout with a sliding window of 8, shorter than the tests' sequences. */
    public static LlamaConfig mistral() {
        return new LlamaConfig(LlamaConfig.Family.MISTRAL, 257, 32, 16, 40, 2, 4, 2, 4, 1e-5, 10000.0,
                Rope.Scaling.NONE, false, false, false, false, false, 8, 0);
    }

    /** Qwen2: biases on q, k and v, tied head, a sliding window on the second layer. */
    public static LlamaConfig qwen2() {
        return new LlamaConfig(LlamaConfig.Family.QWEN2, 257, 32, 16, 40, 2, 4, 2, 4, 1e-6, 1000000.0,
                Rope.Scaling.NONE, true, true, false, false, false, 8, 1);
    }

    /** Qwen3: per-head q/k norms, head_dim 8 with 4 heads on width 16 (q has 32 outputs), untied head. */
    public static LlamaConfig qwen3() {
        return new LlamaConfig(LlamaConfig.Family.QWEN3, 257, 32, 16, 40, 2, 4, 2, 8, 1e-6, 1000000.0,
                Rope.Scaling.NONE, false, false, false, false, true, 0, 0);
    }

    /** LLaMA-3.1's rope scaling (original context 16, so every band occurs), attention and MLP biases. */
    public static LlamaConfig llama31() {
        return new LlamaConfig(LlamaConfig.Family.LLAMA, 257, 32, 16, 40, 2, 4, 2, 4, 1e-5, 500000.0,
                new Rope.Scaling(Rope.Scaling.Kind.LLAMA3, 8, 1, 4, 16), true, true, true, true, false, 0, 0);
    }

    /** OPT as released: pre-LN with a final LayerNorm, tied head, 2 heads on width 16. */
    public static OptConfig opt() {
        return OptConfig.of(257, 32, 16, 40, 2, 2);
    }

    /** OPT-350m's layout: post-LN, no final LayerNorm, embeddings of width 8 projected in and out of 16. */
    public static OptConfig opt350() {
        return new OptConfig(257, 32, 16, 40, 2, 2, 8, false, false, true);
    }

    public static List<SafetensorsWriter.Entry> randomTensors(ModelConfig model, DType dtype, long seed) {
        Random rnd = new Random(seed);
        List<SafetensorsWriter.Entry> out = new ArrayList<>();
        for (Map.Entry<String, long[]> e : model.expectedTensors().entrySet()) {
            long n = 1;
            for (long d : e.getValue()) {
                n *= d;
            }
            float[] v = new float[(int) n];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (rnd.nextGaussian() * 0.02);
            }
            out.add(SafetensorsWriter.Entry.ofFloats(e.getKey(), dtype, e.getValue(), v));
        }
        return out;
    }

    /**
     * As {@link #write}, with weights at the scale of a trained model rather than of an initialisation: matrices of
     * standard deviation {@code std}, norm scales near 1. Blocks then change their inputs visibly, which block-level
     * fitting needs (with 0.02-sized weights and norm scales a block adds about 1e-5 of its input).
     */
    public static void writeTrainedScale(Storage storage, String dir, ModelConfig model, DType dtype, long seed,
                                         double std) throws IOException {
        Random rnd = new Random(seed);
        List<SafetensorsWriter.Entry> tensors = new ArrayList<>();
        for (Map.Entry<String, long[]> e : model.expectedTensors().entrySet()) {
            long n = 1;
            for (long d : e.getValue()) {
                n *= d;
            }
            boolean normScale = e.getValue().length == 1 && e.getKey().endsWith("norm.weight");
            float[] v = new float[(int) n];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (normScale ? 1 + 0.1 * rnd.nextGaussian() : std * rnd.nextGaussian());
            }
            tensors.add(SafetensorsWriter.Entry.ofFloats(e.getKey(), dtype, e.getValue(), v));
        }
        HfCheckpointWriter.write(storage, dir, HfConfig.of(model, torchDtype(dtype)), tensors, Map.of(),
                ByteLevelBpe.bytes().files(), 0, true);
    }

    /** Writes config.json, model.safetensors (or shards), the byte tokenizer and _SUCCESS into {@code dir}. */
    public static void write(Storage storage, String dir, ModelConfig model, DType dtype, long maxShardBytes, long seed)
            throws IOException {
        HfCheckpointWriter.write(storage, dir, HfConfig.of(model, torchDtype(dtype)), randomTensors(model, dtype, seed),
                Map.of(), ByteLevelBpe.bytes().files(), maxShardBytes, true);
    }

    public static String torchDtype(DType dtype) {
        return switch (dtype) {
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> "float32";
        };
    }
}
