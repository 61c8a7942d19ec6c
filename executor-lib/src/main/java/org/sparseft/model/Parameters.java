package org.sparseft.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.io.safetensors.TensorCodec;
import org.sparseft.numerics.HeapCopy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A model's tensors by canonical Hugging Face name, in compute layout: every linear weight is [out, in] (GPT-2's
 * Conv1D weights, stored [in, out], are transposed on load and back on export) and every value is in one dtype
 * (float32 for work, float64 for gradient checks). The same container holds the extra tensors a sparse method trains
 * beside a model ({@link #of}), so the optimizer, the flat exchange form and checkpoints serve both.
 */
public final class Parameters implements Gradients {
    private final ModelConfig config;
    /** Names and compute shapes in flat order: the model's own tensors, or a method's extra ones. */
    private final Map<String, long[]> layout;
    private final boolean model;
    private final Map<String, INDArray> tensors;

    private Parameters(ModelConfig config, Map<String, INDArray> tensors) {
        this(config, computeShapes(config), true, tensors);
    }

    private Parameters(ModelConfig config, Map<String, long[]> layout, boolean model, Map<String, INDArray> tensors) {
        this.config = config;
        this.layout = layout;
        this.model = model;
        this.tensors = tensors;
    }

    /**
     * Tensors a method trains beside a model of {@code config} (low-rank factors, score vectors...), flattened in
     * the order of {@code tensors}.
     */
    public static Parameters of(ModelConfig config, Map<String, INDArray> tensors) {
        Map<String, long[]> layout = new LinkedHashMap<>();
        Map<String, INDArray> t = new LinkedHashMap<>();
        tensors.forEach((n, a) -> {
            layout.put(n, a.shape().clone());
            t.put(n, a);
        });
        return new Parameters(config, Collections.unmodifiableMap(layout), false, t);
    }

    /** Names and compute shapes in flat order. */
    public Map<String, long[]> layout() {
        return layout;
    }

    /** What {@link #fromFlat(Spec, float[])} needs to rebuild these tensors in another JVM. */
    public record Spec(ModelConfig config, LinkedHashMap<String, long[]> layout, boolean model)
            implements java.io.Serializable {
    }

    public Spec spec() {
        return new Spec(config, new LinkedHashMap<>(layout), model);
    }

    /** Float32 tensors of the layout {@code spec} describes, holding the values of {@link #toFlat()}. */
    public static Parameters fromFlat(Spec spec, float[] flat) {
        Map<String, long[]> layout = spec.model() ? computeShapes(spec.config())
                : Collections.unmodifiableMap(new LinkedHashMap<>(spec.layout()));
        return new Parameters(spec.config(), layout, spec.model(), fromFlat(spec.config(), layout, flat));
    }

    public ModelConfig config() {
        return config;
    }

    public INDArray get(String name) {
        INDArray t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no parameter '" + name + "'");
        }
        return t;
    }

    /** As a backward pass's gradients: every tensor here is summed into; a tensor it lacks gets no gradient. */
    @Override
    public INDArray buffer(String name) {
        return tensors.get(name);
    }

    public Set<String> names() {
        return Collections.unmodifiableSet(tensors.keySet());
    }

    public DataType dataType() {
        return tensors.values().iterator().next().dataType();
    }

    /**
     * The same tensors with some replaced by new values of the same shape (shared, not copied): a model that computes
     * with a few changed tensors and the rest of this one.
     */
    public Parameters with(Map<String, INDArray> replacements) {
        Map<String, INDArray> t = new LinkedHashMap<>(tensors);
        replacements.forEach((n, a) -> {
            INDArray old = get(n);
            if (!java.util.Arrays.equals(old.shape(), a.shape())) {
                throw new IllegalArgumentException("'" + n + "' has shape " + java.util.Arrays.toString(old.shape())
                        + ", not " + java.util.Arrays.toString(a.shape()));
            }
            t.put(n, a);
        });
        return new Parameters(config, layout, model, t);
    }

    /**
     * Frees every tensor's memory now instead of at the next garbage collection: for large tensors that are done
     * with (a block a layer-by-layer pass has finished), whose off-heap buffers would otherwise pile up. Nothing may
     * use these tensors afterwards.
     */
    public void release() {
        tensors.values().forEach(Parameters::release);
    }

    /** Frees one array's memory now, when it owns it (not a view or a workspace's). */
    public static void release(INDArray a) {
        HeapCopy.free(a);
    }

    /** Zeros of the same names and shapes: a gradient accumulator. */
    public Parameters zerosLike() {
        Map<String, INDArray> z = new LinkedHashMap<>();
        tensors.forEach((n, t) -> z.put(n, Nd4j.zeros(t.dataType(), t.shape())));
        return new Parameters(config, layout, model, z);
    }

    /** A deep copy in another dtype. */
    public Parameters castTo(DataType dtype) {
        Map<String, INDArray> c = new LinkedHashMap<>();
        tensors.forEach((n, t) -> c.put(n, t.castTo(dtype).dup()));
        return new Parameters(config, layout, model, c);
    }

    public long count() {
        long n = 0;
        for (INDArray t : tensors.values()) {
            n += t.length();
        }
        return n;
    }

    /** Whether the stored (checkpoint) layout of this tensor is the transpose of the compute layout. */
    public static boolean storedTransposed(ModelConfig config, String name) {
        return config instanceof Gpt2Config && name.endsWith(".weight")
                && (name.contains(".attn.c_attn.") || name.contains(".attn.c_proj.") || name.contains(".mlp.c_fc.")
                || name.contains(".mlp.c_proj."));
    }

    /**
     * A model's tensors in compute layout ({@link #computeShapes}), e.g. as a checkpoint reader built them; every
     * tensor the config implies must be there, in its shape.
     */
    public static Parameters ofModel(ModelConfig config, Map<String, INDArray> tensors) {
        Map<String, long[]> shapes = computeShapes(config);
        Map<String, INDArray> t = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            INDArray a = tensors.get(e.getKey());
            if (a == null || !java.util.Arrays.equals(a.shape(), e.getValue())) {
                throw new IllegalArgumentException("tensor '" + e.getKey() + "': expected shape "
                        + java.util.Arrays.toString(e.getValue()) + ", got "
                        + (a == null ? "none" : java.util.Arrays.toString(a.shape())));
            }
            t.put(e.getKey(), a);
        }
        if (tensors.size() != t.size()) {
            throw new IllegalArgumentException(tensors.size() - t.size() + " tensors the config does not imply");
        }
        return new Parameters(config, t);
    }

    /**
     * Seeded initialisation as Hugging Face initialises these families: weights and embeddings N(0, 0.02), GPT-2's
     * residual projections N(0, 0.02/√(2·layers)), norm scales 1, biases 0. Each tensor's stream depends only on the
     * seed and its name, so adding a tensor does not change the others.
     */
    public static Parameters initialize(ModelConfig config, long seed, DataType dtype) {
        Map<String, INDArray> t = new LinkedHashMap<>();
        double residualStd = 0.02 / Math.sqrt(2.0 * config.numLayers());
        for (Map.Entry<String, long[]> e : computeShapes(config).entrySet()) {
            String name = e.getKey();
            long[] shape = e.getValue();
            INDArray a;
            if (shape.length == 1) {
                boolean normScale = name.endsWith(".weight") && (name.endsWith("norm.weight") || name.contains(".ln_"));
                a = normScale ? Nd4j.ones(dtype, shape) : Nd4j.zeros(dtype, shape);
            } else {
                Nd4j.getRandom().setSeed(seed * 1_000_003L + name.hashCode());
                double std = config instanceof Gpt2Config && name.endsWith("c_proj.weight") ? residualStd : 0.02;
                a = Nd4j.randn(dtype, shape).muli(std);
            }
            t.put(name, a);
        }
        return new Parameters(config, t);
    }

    /** Each tensor's shape in compute layout ([out, in] for every linear), in checkpoint order. */
    public static Map<String, long[]> computeShapes(ModelConfig config) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        config.expectedTensors().forEach((name, shape) -> shapes.put(name,
                storedTransposed(config, name) ? new long[] {shape[1], shape[0]} : shape.clone()));
        return shapes;
    }

    /**
     * Every value as float32, tensor after tensor in name order, each in c order: the form in which parameters and
     * gradients travel between JVMs and into training checkpoints.
     */
    public float[] toFlat() {
        float[] flat = new float[Math.toIntExact(count())];
        int offset = 0;
        for (String name : layout.keySet()) { // the order fromFlat reads
            float[] v = HeapCopy.floats(get(name));
            System.arraycopy(v, 0, flat, offset, v.length);
            offset += v.length;
        }
        return flat;
    }

    /** Float32 parameters of {@code config} holding the values of {@link #toFlat()}. */
    public static Parameters fromFlat(ModelConfig config, float[] flat) {
        return new Parameters(config, fromFlat(config, computeShapes(config), flat));
    }

    private static Map<String, INDArray> fromFlat(ModelConfig config, Map<String, long[]> layout, float[] flat) {
        Map<String, INDArray> t = new LinkedHashMap<>();
        int offset = 0;
        for (Map.Entry<String, long[]> e : layout.entrySet()) {
            int n = Math.toIntExact(lengthOf(e.getValue()));
            if (offset + n > flat.length) {
                throw new IllegalArgumentException(flat.length + " values are too few for " + config.modelType()
                        + " parameters");
            }
            t.put(e.getKey(), Nd4j.create(java.util.Arrays.copyOfRange(flat, offset, offset + n), e.getValue(), 'c'));
            offset += n;
        }
        if (offset != flat.length) {
            throw new IllegalArgumentException(flat.length + " values for " + offset + " parameters");
        }
        return t;
    }

    /** Overwrites every value from the {@link #toFlat()} form. */
    public void assign(float[] flat) {
        if (flat.length != count()) {
            throw new IllegalArgumentException(flat.length + " values for " + count() + " parameters");
        }
        int offset = 0;
        for (String name : layout.keySet()) {
            INDArray t = get(name);
            int n = Math.toIntExact(t.length());
            t.assign(Nd4j.create(java.util.Arrays.copyOfRange(flat, offset, offset + n), t.shape(), 'c'));
            offset += n;
        }
    }

    private static long lengthOf(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** The tensors in checkpoint layout and order, encoded as {@code dtype} (F32, F16 or BF16). */
    public List<SafetensorsWriter.Entry> toEntries(DType dtype) {
        List<SafetensorsWriter.Entry> out = new ArrayList<>();
        if (!model) { // a method's tensors: compute layout, flat order
            layout.forEach((name, shape) -> out.add(new SafetensorsWriter.Entry(name, dtype, shape,
                    TensorCodec.encodeFloats(HeapCopy.floats(get(name)), dtype))));
            return out;
        }
        for (Map.Entry<String, long[]> e : config.expectedTensors().entrySet()) {
            INDArray a = get(e.getKey());
            if (storedTransposed(config, e.getKey())) {
                a = a.transpose();
            }
            float[] values = HeapCopy.floats(a);
            out.add(new SafetensorsWriter.Entry(e.getKey(), dtype, e.getValue(), TensorCodec.encodeFloats(values, dtype)));
        }
        return out;
    }
}
