package org.sparseft.jobs.bench;

import org.sparseft.model.Gpt2Config;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.ops.Rope;
import picocli.CommandLine;

import java.util.Arrays;
import java.util.Iterator;
import java.util.stream.Collectors;

/** Published model shapes that {@code sparseft bench checkpoint} fills with random weights, by command-line name. */
public enum CheckpointShape {
    TINYLLAMA_1_1B("tinyllama-1.1b", "TinyLlama-1.1B: LLaMA, 22 blocks, width 2048, MLP 5632, 32 heads (4 KV),"
            + " vocabulary 32000, untied head",
            llama(32000, 2048, 2048, 5632, 22, 32, 4)),
    LLAMA_2_7B("llama-2-7b", "Llama-2-7B: LLaMA, 32 blocks, width 4096, MLP 11008, 32 heads, vocabulary 32000,"
            + " untied head",
            llama(32000, 4096, 4096, 11008, 32, 32, 32)),
    GPT2_SMALL("gpt2-small", "GPT-2 small (124M): 12 blocks, width 768, 12 heads, 1024 positions, vocabulary 50257,"
            + " tied head",
            Gpt2Config.of(50257, 1024, 768, 12, 12));

    private final String id;
    private final String description;
    private final ModelConfig config;

    CheckpointShape(String id, String description, ModelConfig config) {
        this.id = id;
        this.description = description;
        this.config = config;
    }

    /** The name on the command line, e.g. {@code tinyllama-1.1b}. */
    public String id() {
        return id;
    }

    public String description() {
        return description;
    }

    public ModelConfig config() {
        return config;
    }

    @Override
    public String toString() {
        return id; // what the help shows as the default
    }

    /** The shape named {@code id}; null when there is none. */
    public static CheckpointShape of(String id) {
        for (CheckpointShape s : values()) {
            if (s.id.equals(id)) {
                return s;
            }
        }
        return null;
    }

    /**
     * Both LLaMA checkpoints' config.json say rms_norm_eps 1e-5 and rope_theta 10000, which {@link LlamaConfig#of}
     * (Hugging Face's class defaults, eps 1e-6) does not give.
     */
    private static LlamaConfig llama(int vocab, int positions, int hidden, int intermediate, int layers, int heads,
                                     int kvHeads) {
        return new LlamaConfig(LlamaConfig.Family.LLAMA, vocab, positions, hidden, intermediate, layers, heads,
                kvHeads, hidden / heads, 1e-5, 10000.0, Rope.Scaling.NONE, false, false, false, false, false, 0, 0);
    }

    /** Parses {@code --shape}; an unknown name lists the known ones. */
    static final class Converter implements CommandLine.ITypeConverter<CheckpointShape> {
        @Override
        public CheckpointShape convert(String value) {
            CheckpointShape s = of(value);
            if (s == null) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a known shape; expected one of "
                        + Arrays.stream(values()).map(CheckpointShape::id).collect(Collectors.joining(", ")));
            }
            return s;
        }
    }

    /** The names the help lists. */
    static final class Names implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Arrays.stream(values()).map(CheckpointShape::id).iterator();
        }
    }
}
