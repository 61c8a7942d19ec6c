package org.sparseft.driver.train;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.InvalidSettingException;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.HeapCopy;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The trained tensors cut into one chunk per partition for sharded synchronisation: chunk k is a run of whole
 * tensors, consecutive in flat order, about 1/P of the values. Whole tensors keep every per-tensor computation
 * (gradient norms, AdamW's weight-decay rule, a method's regularisation) exactly as it is on one JVM, so the sharded
 * step gives the same bits as the driver's.
 *
 * @param names the tensors in flat order
 * @param shapes their compute shapes
 * @param firstTensor chunk k holds tensors {@code [firstTensor[k], firstTensor[k + 1])}; P + 1 entries
 */
record ParameterChunks(Parameters.Spec spec, List<String> names, List<long[]> shapes, int[] firstTensor)
        implements Serializable {

    /**
     * Cuts {@code spec}'s tensors into {@code partitions} chunks: each takes the next tensor while at least half of
     * it falls within the chunk's even share of the values, and no chunk is empty.
     *
     * @throws InvalidSettingException when there are fewer tensors than partitions
     */
    static ParameterChunks of(Parameters.Spec spec, int partitions) {
        List<String> names = new ArrayList<>(spec.layout().keySet());
        List<long[]> shapes = new ArrayList<>(spec.layout().values());
        int tensors = names.size();
        if (partitions > tensors) {
            throw new InvalidSettingException("{partitions} " + partitions + " is more than the " + tensors
                    + " trained tensors, and {sync} sharded gives every partition whole tensors to sum and update;"
                    + " use at most " + tensors + " partitions, or {sync} grad");
        }
        long total = 0;
        for (long[] s : shapes) {
            total += length(s);
        }
        int[] first = new int[partitions + 1];
        int t = 0;
        long done = 0;
        for (int k = 0; k < partitions; k++) {
            first[k] = t;
            long target = total * (k + 1) / partitions;
            do { // at least one tensor, and leave one for each chunk after this one
                done += length(shapes.get(t++));
            } while (t < tensors - (partitions - 1 - k) && done + length(shapes.get(t)) / 2 < target);
        }
        first[partitions] = tensors; // the last chunk takes the rest
        return new ParameterChunks(spec, names, shapes, first);
    }

    int count() {
        return firstTensor.length - 1;
    }

    /** Values in all chunks. */
    long total() {
        long n = 0;
        for (long[] s : shapes) {
            n += length(s);
        }
        return n;
    }

    /** Values in the largest chunk. */
    long largest() {
        long max = 0;
        for (int k = 0; k < count(); k++) {
            max = Math.max(max, length(k));
        }
        return max;
    }

    /** Values in chunk {@code k}. */
    int length(int k) {
        long n = 0;
        for (int t = firstTensor[k]; t < firstTensor[k + 1]; t++) {
            n += length(shapes.get(t));
        }
        return Math.toIntExact(n);
    }

    /** Chunk {@code k}'s tensors of {@code params}, flat, in order. */
    float[] slice(Parameters params, int k) {
        float[] out = new float[length(k)];
        int offset = 0;
        for (int t = firstTensor[k]; t < firstTensor[k + 1]; t++) {
            float[] v = HeapCopy.floats(params.get(names.get(t)));
            System.arraycopy(v, 0, out, offset, v.length);
            offset += v.length;
        }
        return out;
    }

    /**
     * Tensor {@code t} alone (an index into {@link #names}), from its chunk's flat values where it starts at
     * {@code offset}: a fresh float32 array.
     */
    Parameters tensor(int t, float[] flat, int offset) {
        long[] shape = shapes.get(t);
        int n = Math.toIntExact(length(shape));
        return Parameters.of(spec.config(),
                Map.of(names.get(t), Nd4j.create(Arrays.copyOfRange(flat, offset, offset + n), shape, 'c')));
    }

    /** Chunk {@code k}'s tensors from their flat values: fresh float32 arrays, as {@link Parameters#fromFlat} makes. */
    Parameters tensors(int k, float[] flat) {
        Map<String, INDArray> t = new LinkedHashMap<>();
        int offset = 0;
        for (int i = firstTensor[k]; i < firstTensor[k + 1]; i++) {
            long[] shape = shapes.get(i);
            int n = Math.toIntExact(length(shape));
            t.put(names.get(i), Nd4j.create(Arrays.copyOfRange(flat, offset, offset + n), shape, 'c'));
            offset += n;
        }
        if (offset != flat.length) {
            throw new IllegalArgumentException(flat.length + " values for chunk " + k + " of " + offset);
        }
        return Parameters.of(spec.config(), t);
    }

    /** The whole flat vector from every chunk's values, in chunk order. */
    float[] join(List<float[]> chunks) {
        long total = 0;
        for (float[] c : chunks) {
            total += c.length;
        }
        float[] flat = new float[Math.toIntExact(total)];
        int offset = 0;
        for (float[] c : chunks) {
            System.arraycopy(c, 0, flat, offset, c.length);
            offset += c.length;
        }
        return flat;
    }

    private static long length(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }
}
