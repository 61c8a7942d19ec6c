package org.sparseft.jobs.bench;

import org.sparseft.data.TokenFiles;
import org.sparseft.io.AtomicOutput;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.io.safetensors.TensorCodec;
import org.sparseft.jobs.service.Outputs;
import org.sparseft.jobs.service.Progress;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.ModelConfig;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * A checkpoint of seeded random weights in Hugging Face layout, at any size: each tensor's bytes are generated when
 * the writer reaches it and dropped once written, so memory holds about one tensor however large the model (a 7B
 * model's float32 {@code Parameters} would take 27 GB). Values are as {@code Parameters.initialize} draws them: norm
 * scales 1, biases 0, other weights N(0, 0.02) (GPT-2's residual projections N(0, 0.02/sqrt(2 layers))), but from
 * a faster generator, so the values themselves differ from {@code initialize}'s.
 *
 * <p>Output layout: {@code DIR/model} (the checkpoint), {@code DIR/calibration.safetensors} (random token ids as
 * {@link TokenFiles#writeBlocks} writes them, for {@code sparseft prune --tokens}) and {@code DIR/_SUCCESS} last.
 */
public final class RandomCheckpoint {
    public static final String MODEL = "model";
    public static final String CALIBRATION = "calibration.safetensors";

    /**
     * Values per generation task. Each chunk has its own seed, so the bytes do not depend on how many threads draw
     * them; 64 Ki floats (256 KiB) stay below G1's humongous-object size, so the scratch arrays die young.
     */
    static final int CHUNK = 1 << 16;

    private static final double STD = 0.02;
    private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;

    private RandomCheckpoint() {
    }

    /** The weight dtypes a checkpoint can be written in, by command-line name. */
    public enum Precision {
        BF16("bf16", DType.BF16, "bfloat16"), F16("f16", DType.F16, "float16"), F32("f32", DType.F32, "float32");

        private final String id;
        private final DType dtype;
        private final String torchDtype;

        Precision(String id, DType dtype, String torchDtype) {
            this.id = id;
            this.dtype = dtype;
            this.torchDtype = torchDtype;
        }

        public DType dtype() {
            return dtype;
        }

        /** config.json's {@code torch_dtype}. */
        public String torchDtype() {
            return torchDtype;
        }

        @Override
        public String toString() {
            return id;
        }

        static final class Converter implements CommandLine.ITypeConverter<Precision> {
            @Override
            public Precision convert(String value) {
                for (Precision p : values()) {
                    if (p.id.equals(value)) {
                        return p;
                    }
                }
                throw new CommandLine.TypeConversionException("'" + value + "' is not a weight dtype; expected one of "
                        + Arrays.stream(values()).map(Precision::toString).collect(Collectors.joining(", ")));
            }
        }

        static final class Names implements Iterable<String> {
            @Override
            public Iterator<String> iterator() {
                return Arrays.stream(values()).map(Precision::toString).iterator();
            }
        }
    }

    /** What was written: {@code bytesOnDisk} counts every file under the output directory. */
    public record Summary(long parameters, int tensors, long tensorBytes, long bytesOnDisk, double seconds) {
    }

    /**
     * Writes {@code DIR/model}, {@code DIR/calibration.safetensors} ({@code sequences} x {@code seqLen} token ids)
     * and {@code DIR/_SUCCESS}. The directory appears whole or not at all; with {@code force}, an existing one is
     * deleted first rather than kept until its replacement is complete, since a 7B checkpoint held twice may not
     * fit on the disk.
     *
     * @param shardBytes the largest shard, in tensor bytes; 0 writes one {@code model.safetensors}
     */
    public static Summary write(Storage storage, String dir, ModelConfig cfg, Precision precision, long seed,
                                long shardBytes, int sequences, int seqLen, boolean force, Progress progress)
            throws IOException {
        Outputs.check(storage, "out", dir, force);
        long start = System.nanoTime();
        if (force && storage.exists(dir)) {
            progress.step("deleting the existing " + dir);
            storage.delete(dir);
        }
        List<SafetensorsWriter.Entry> tensors = tensors(cfg, precision.dtype(), seed);
        long total = tensors.stream().mapToLong(SafetensorsWriter.Entry::byteSize).sum();
        Map<String, String> metadata = Map.of("producer", "sparseft bench checkpoint", "seed", Long.toString(seed));
        List<SafetensorsWriter.Entry> reported = withProgress(tensors, total, progress);
        AtomicOutput.writeDirectory(storage, dir, false, tmp -> {
            progress.step(String.format("writing %d tensors, %,d parameters, %.2f GB of %s", tensors.size(),
                    cfg.parameterCount(), total / 1e9, precision));
            HfCheckpointWriter.write(storage, Storage.join(tmp, MODEL), HfConfig.of(cfg, precision.torchDtype()),
                    reported, metadata, Map.of(), shardBytes, false);
            progress.step(String.format("all %d tensors written (%.2f GB); writing %d calibration sequences of %d"
                    + " tokens", tensors.size(), total / 1e9, sequences, seqLen));
            TokenFiles.writeBlocks(storage, Storage.join(tmp, CALIBRATION),
                    calibrationBlocks(cfg.vocabSize(), sequences, seqLen, seed), metadata);
            try (var out = storage.create(Storage.join(tmp, HfCheckpointWriter.SUCCESS))) {
                out.flush();
            }
        });
        return new Summary(cfg.parameterCount(), tensors.size(), total, diskBytes(storage, dir),
                (System.nanoTime() - start) / 1e9);
    }

    /**
     * Every tensor of {@code cfg} in checkpoint order and stored layout ({@link ModelConfig#expectedTensors}: GPT-2's
     * Conv1D weights [in, out]), each producing its bytes anew when asked: nothing is kept between calls.
     */
    public static List<SafetensorsWriter.Entry> tensors(ModelConfig cfg, DType dtype, long seed) {
        List<SafetensorsWriter.Entry> out = new ArrayList<>();
        double residualStd = STD / Math.sqrt(2.0 * cfg.numLayers());
        cfg.expectedTensors().forEach((name, shape) -> {
            long n = Arrays.stream(shape).reduce(1, Math::multiplyExact);
            SafetensorsWriter.Entry.Content content;
            if (shape.length == 1) { // as Parameters.initialize: norm scales 1, biases 0
                boolean normScale = name.endsWith(".weight") && (name.endsWith("norm.weight") || name.contains(".ln_"));
                content = () -> constant(n, normScale ? 1f : 0f, dtype);
            } else {
                double std = cfg instanceof Gpt2Config && name.endsWith("c_proj.weight") ? residualStd : STD;
                long tensorSeed = mix64(seed * 1_000_003L + name.hashCode());
                content = () -> gaussian(n, std, tensorSeed, dtype);
            }
            out.add(new SafetensorsWriter.Entry(name, dtype, shape, content));
        });
        return out;
    }

    /** N(0, std) values of one tensor, drawn chunk by chunk in parallel, each chunk from its own seed. */
    static ByteBuffer gaussian(long n, double std, long tensorSeed, DType dtype) {
        int width = dtype.bytes();
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(Math.multiplyExact(n, width)))
                .order(ByteOrder.LITTLE_ENDIAN);
        int chunks = Math.toIntExact((n + CHUNK - 1) / CHUNK);
        IntStream.range(0, chunks).parallel().forEach(c -> {
            int from = c * CHUNK;
            float[] v = new float[(int) Math.min(CHUNK, n - from)];
            SplittableRandom r = new SplittableRandom(mix64(tensorSeed + c * GOLDEN_GAMMA));
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (r.nextGaussian() * std);
            }
            // absolute put: chunks write disjoint ranges, and the stream's end publishes them
            out.put(from * width, TensorCodec.encodeFloats(v, dtype), 0, v.length * width);
        });
        return out;
    }

    private static ByteBuffer constant(long n, float value, DType dtype) {
        float[] v = new float[Math.toIntExact(n)];
        Arrays.fill(v, value);
        return TensorCodec.encodeFloats(v, dtype);
    }

    /** Random token ids in [0, vocab), the calibration file's blocks. */
    static List<int[]> calibrationBlocks(int vocabSize, int sequences, int seqLen, long seed) {
        SplittableRandom r = new SplittableRandom(mix64(seed ^ 0x6361_6c69_6272_6174L));
        List<int[]> blocks = new ArrayList<>(sequences);
        for (int i = 0; i < sequences; i++) {
            blocks.add(r.ints(seqLen, 0, vocabSize).toArray());
        }
        return blocks;
    }

    /** The same entries, with a progress line (at most every 2 s) when the writer asks for a tensor's bytes. */
    private static List<SafetensorsWriter.Entry> withProgress(List<SafetensorsWriter.Entry> tensors, long total,
                                                              Progress progress) {
        List<SafetensorsWriter.Entry> out = new ArrayList<>(tensors.size());
        long[] lastLine = {0};
        long before = 0; // bytes of the tensors written before this one
        for (int i = 0; i < tensors.size(); i++) {
            SafetensorsWriter.Entry e = tensors.get(i);
            int index = i + 1;
            long written = before;
            SafetensorsWriter.Entry.Content inner = e.content();
            out.add(new SafetensorsWriter.Entry(e.name(), e.dtype(), e.shape(), () -> {
                long now = System.nanoTime();
                if (lastLine[0] == 0 || now - lastLine[0] >= 2_000_000_000L) {
                    lastLine[0] = now;
                    progress.step(String.format("tensor %d/%d %s: %.2f of %.2f GB written", index, tensors.size(),
                            e.name(), written / 1e9, total / 1e9));
                }
                return inner.bytes();
            }));
            before += e.byteSize();
        }
        return out;
    }

    /** Bytes of every file under {@code path}. */
    static long diskBytes(Storage storage, String path) throws IOException {
        if (!storage.isDirectory(path)) {
            return storage.length(path);
        }
        long sum = 0;
        for (String name : storage.list(path)) {
            sum += diskBytes(storage, Storage.join(path, name));
        }
        return sum;
    }

    /** Stafford's variant 13 of the MurmurHash3 finalizer (SplittableRandom's own mixer): nearby seeds part ways. */
    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
