package org.sparseft.ast;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.HeapCopy;
import org.sparseft.sparsity.MaskSelection;
import org.sparseft.sparsity.SparsityPattern;

import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AST's keep-masks, one per prunable weight, packed one bit per weight (1 = kept; compute layout [out, in], row
 * after row) so that they travel to executors and into checkpoints at 1/32 of the weights' size. Immutable.
 */
public final class NmMasks implements Serializable {
    private static final long serialVersionUID = 1L;

    private final LinkedHashMap<String, long[]> shapes;
    private final LinkedHashMap<String, long[]> bits;

    private NmMasks(LinkedHashMap<String, long[]> shapes, LinkedHashMap<String, long[]> bits) {
        this.shapes = shapes;
        this.bits = bits;
    }

    /**
     * Per row, per group of M input weights, keeps the M − N of largest magnitude (docs/algorithms.md §8.1); ties keep
     * the higher column, as {@link MaskSelection} orders them, so every replica selects the same mask.
     */
    public static NmMasks byMagnitude(Parameters params, List<String> weights, SparsityPattern.NOutOfM pattern) {
        LinkedHashMap<String, INDArray> keep = new LinkedHashMap<>();
        for (String w : weights) {
            keep.put(w, MaskSelection.perGroup(Transforms.abs(params.get(w), true), pattern.n(), pattern.m()));
        }
        return of(keep);
    }

    /** The masks of several parts (each covering some weights) as one, with the weights in {@code order}. */
    public static NmMasks concat(List<NmMasks> parts, List<String> order) {
        LinkedHashMap<String, long[]> shapes = new LinkedHashMap<>();
        LinkedHashMap<String, long[]> bits = new LinkedHashMap<>();
        for (String w : order) {
            NmMasks from = parts.stream().filter(m -> m.covers(w)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no part has a mask for '" + w + "'"));
            shapes.put(w, from.shapes.get(w));
            bits.put(w, from.bits.get(w));
        }
        return new NmMasks(shapes, bits);
    }

    /** Packs float keep-masks (non-zero = kept). */
    public static NmMasks of(Map<String, INDArray> keep) {
        LinkedHashMap<String, long[]> shapes = new LinkedHashMap<>();
        LinkedHashMap<String, long[]> bits = new LinkedHashMap<>();
        keep.forEach((name, k) -> {
            float[] v = HeapCopy.floats(k);
            shapes.put(name, k.shape().clone());
            bits.put(name, pack(v.length, i -> v[i] != 0f));
        });
        return new NmMasks(shapes, bits);
    }

    /** Masks from one byte per weight (non-zero = kept), as {@link #bytes} writes them. */
    public static NmMasks ofBytes(Map<String, long[]> shapes, Map<String, byte[]> values) {
        LinkedHashMap<String, long[]> s = new LinkedHashMap<>();
        LinkedHashMap<String, long[]> bits = new LinkedHashMap<>();
        values.forEach((name, v) -> {
            s.put(name, shapes.get(name).clone());
            bits.put(name, pack(v.length, i -> v[i] != 0));
        });
        return new NmMasks(s, bits);
    }

    private static long[] pack(int length, java.util.function.IntPredicate kept) {
        long[] b = new long[(length + 63) / 64];
        for (int i = 0; i < length; i++) {
            if (kept.test(i)) {
                b[i >>> 6] |= 1L << (i & 63);
            }
        }
        return b;
    }

    public List<String> names() {
        return List.copyOf(bits.keySet());
    }

    public boolean covers(String weight) {
        return bits.containsKey(weight);
    }

    /** The float32 keep-mask of {@code weight}, its shape. */
    public INDArray keep(String weight) {
        long[] b = bits(weight);
        float[] v = new float[length(weight)];
        for (int i = 0; i < v.length; i++) {
            v[i] = bit(b, i);
        }
        return Nd4j.create(v, shapes.get(weight), 'c');
    }

    /** The same mask one byte per weight (1 kept), compute layout: for checkpoints. */
    public byte[] bytes(String weight) {
        long[] b = bits(weight);
        byte[] v = new byte[length(weight)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (byte) bit(b, i);
        }
        return v;
    }

    private static int bit(long[] bits, int i) {
        return (int) (bits[i >>> 6] >>> (i & 63) & 1L);
    }

    private int length(String weight) {
        long[] shape = shapes.get(weight);
        return Math.toIntExact(shape[0] * shape[1]);
    }

    public long[] shape(String weight) {
        bits(weight);
        return shapes.get(weight).clone();
    }

    /** Entries that differ from {@code other}'s (a swap within a group counts two), over all covered weights. */
    public long changedFrom(NmMasks other) {
        long changed = 0;
        for (Map.Entry<String, long[]> e : bits.entrySet()) {
            long[] a = e.getValue();
            long[] b = other.bits(e.getKey());
            for (int i = 0; i < a.length; i++) {
                changed += Long.bitCount(a[i] ^ b[i]);
            }
        }
        return changed;
    }

    /** Kept entries, over all covered weights. */
    public long kept() {
        long n = 0;
        for (long[] b : bits.values()) {
            for (long word : b) {
                n += Long.bitCount(word);
            }
        }
        return n;
    }

    /** Mask entries (weights covered), over all covered weights. */
    public long size() {
        long n = 0;
        for (long[] s : shapes.values()) {
            n += s[0] * s[1];
        }
        return n;
    }

    public Map<String, long[]> shapes() {
        return Collections.unmodifiableMap(shapes);
    }

    private long[] bits(String weight) {
        long[] b = bits.get(weight);
        if (b == null) {
            throw new IllegalArgumentException("no mask for '" + weight + "'");
        }
        return b;
    }
}
