package org.sparseft.sparsity;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.numerics.HeapCopy;

import java.io.IOException;
import java.util.Collections;
import java.util.Map;
import java.util.Set;

/**
 * What a sparse method decided for a model's tensors, asked for one tensor at a time while {@link SparseExport}
 * writes it, so an export never needs the whole model's masks or values at once. Names are canonical; values are in
 * compute layout ([out, in] for linear weights), c order.
 */
public interface PrunedWeights {
    /** The weights that have a keep-mask. */
    Set<String> masked();

    /** A masked weight's keep-mask: 1 kept, 0 pruned. */
    byte[] keep(String weight) throws IOException;

    /** The new values of a tensor the method changed, or null when its stored bytes stay. */
    float[] updated(String tensor) throws IOException;

    /** A keep-mask (non-zero = kept) as bytes, 1 kept, c order. */
    public static byte[] keepBytes(INDArray keep) {
        float[] k = HeapCopy.floats(keep);
        byte[] b = new byte[k.length];
        for (int i = 0; i < k.length; i++) {
            b[i] = k[i] != 0f ? (byte) 1 : 0;
        }
        return b;
    }

    /** Decisions already in memory: keep-masks (non-zero = kept) and new values, by name. */
    static PrunedWeights of(Map<String, INDArray> masks, Map<String, INDArray> updated) {
        return new PrunedWeights() {
            @Override
            public Set<String> masked() {
                return Collections.unmodifiableSet(masks.keySet());
            }

            @Override
            public byte[] keep(String weight) {
                return keepBytes(masks.get(weight));
            }

            @Override
            public float[] updated(String tensor) {
                INDArray u = updated.get(tensor);
                return u == null ? null : HeapCopy.floats(u);
            }
        };
    }
}
