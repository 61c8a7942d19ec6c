package org.sparseft.driver.prune;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.io.Storage;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsFile;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.io.safetensors.TensorInfo;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.sparsity.PrunedWeights;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A layer-by-layer prune's decisions, one safetensors file per block in a working directory beside the output (on
 * the output's file system, so every executor reads them): each pruned weight's keep-mask (U8) and the new values of
 * the tensors the method changed, in their stored dtype. Executors rebuild a pruned block from its dense tensors and
 * this file, and the export reads it one tensor at a time, so neither the driver nor an executor ever holds more
 * than a block of decisions.
 */
public final class PrunedBlocks {
    private static final String KEEP = "keep:";
    private static final String VALUE = "value:";

    private final String dir;
    private final Set<String> masked = new LinkedHashSet<>(); // driver side: every masked weight written so far

    public PrunedBlocks(String dir) {
        this.dir = dir;
    }

    public String dir() {
        return dir;
    }

    private static String file(String dir, int layer) {
        return Storage.join(dir, String.format("block-%05d.safetensors", layer));
    }

    /**
     * Writes block {@code layer}'s decisions.
     *
     * @param keep keep-masks (1 kept) of the block's pruned weights, compute layout, c order
     * @param values new values of the tensors the method changed (already representable in their stored dtype)
     * @param shapes compute shapes of the named tensors
     * @param dtypes stored dtypes, by name
     */
    void write(Storage storage, int layer, Map<String, byte[]> keep, Map<String, float[]> values,
               Map<String, long[]> shapes, Map<String, DType> dtypes) throws IOException {
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        keep.forEach((name, k) -> entries.add(new SafetensorsWriter.Entry(KEEP + name, DType.U8, shapes.get(name),
                java.nio.ByteBuffer.wrap(k))));
        values.forEach((name, v) -> entries.add(SafetensorsWriter.Entry.ofFloats(VALUE + name,
                valueType(dtypes.get(name)), shapes.get(name), v)));
        if (!storage.exists(dir)) {
            storage.mkdirs(dir);
        }
        SafetensorsWriter.write(storage, file(dir, layer), entries, Map.of("producer", "sparseft prune"));
        masked.addAll(keep.keySet());
    }

    /** Values travel in the stored dtype (exact: they were rounded to it); F64 and others as F32. */
    private static DType valueType(DType stored) {
        return stored == DType.BF16 || stored == DType.F16 ? stored : DType.F32;
    }

    /**
     * Block {@code layer} as pruning left it: {@code dense} (its tensors, compute layout) with each pruned weight
     * multiplied by its keep-mask, and the changed tensors' new values in place.
     */
    static Parameters apply(Storage storage, String dir, int layer, Parameters dense) throws IOException {
        Map<String, INDArray> changed = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(storage, file(dir, layer))) {
            for (TensorInfo t : f.tensors()) {
                if (t.name().startsWith(VALUE)) {
                    changed.put(t.name().substring(VALUE.length()),
                            Nd4j.create(f.readFloats(t.name()), t.shape(), 'c'));
                }
            }
            for (TensorInfo t : f.tensors()) {
                String name = t.name().substring(KEEP.length());
                if (t.name().startsWith(KEEP) && !changed.containsKey(name)) {
                    INDArray keep = keepAsFloats(f, t);
                    changed.put(name, dense.get(name).mul(keep));
                    Parameters.release(keep);
                }
            }
        }
        return dense.with(changed);
    }

    private static INDArray keepAsFloats(SafetensorsFile f, TensorInfo t) throws IOException {
        java.nio.ByteBuffer b = f.rawBytes(t.name());
        byte[] k = new byte[b.remaining()];
        b.get(k);
        return keepAsFloats(k, t.shape());
    }

    /** A keep-mask's bytes as a float32 array of {@code shape} of its own (freeable, not a view). */
    static INDArray keepAsFloats(byte[] keep, long[] shape) {
        INDArray bytes = Nd4j.createFromArray(keep);
        INDArray floats = bytes.reshape('c', shape).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT);
        Parameters.release(bytes);
        return floats;
    }

    /** The decisions of every block written, for {@link org.sparseft.sparsity.SparseExport}. */
    public PrunedWeights weights(Storage storage, ModelConfig config) {
        Set<String> names = Collections.unmodifiableSet(new LinkedHashSet<>(masked));
        return new PrunedWeights() {
            @Override
            public Set<String> masked() {
                return names;
            }

            @Override
            public byte[] keep(String weight) throws IOException {
                byte[][] out = new byte[1][];
                read(weight, KEEP, (f, t) -> {
                    java.nio.ByteBuffer b = f.rawBytes(t);
                    out[0] = new byte[b.remaining()];
                    b.get(out[0]);
                });
                return out[0];
            }

            @Override
            public float[] updated(String tensor) throws IOException {
                float[][] out = new float[1][];
                read(tensor, VALUE, (f, t) -> out[0] = f.readFloats(t));
                return out[0];
            }

            private void read(String tensor, String kind, Reader reader) throws IOException {
                long layer = config.layerOf(tensor);
                if (layer < 0 || !storage.exists(file(dir, (int) layer))) {
                    return;
                }
                try (SafetensorsFile f = SafetensorsFile.open(storage, file(dir, (int) layer))) {
                    if (f.contains(kind + tensor)) {
                        reader.read(f, kind + tensor);
                    }
                }
            }
        };
    }

    @FunctionalInterface
    private interface Reader {
        void read(SafetensorsFile file, String tensor) throws IOException;
    }

    /** Removes the working directory. */
    public void delete(Storage storage) throws IOException {
        if (storage.exists(dir)) {
            storage.delete(dir);
        }
    }
}
