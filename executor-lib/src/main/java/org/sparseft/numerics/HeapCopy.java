package org.sparseft.numerics;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An array's values copied onto the Java heap without leaving a native temporary behind: ND4J frees the off-heap
 * buffer of an array made outside a workspace only when a garbage collection finds it unreachable, and heap-light
 * passes over large tensors (a 7B block is 0.8 GB in float32) collect too rarely for that to keep up.
 */
public final class HeapCopy {
    private HeapCopy() {
    }

    /** The values of {@code a} as float32, in c order. */
    public static float[] floats(INDArray a) {
        if (NativeBlas.isWholeRowMajor(a, DataType.FLOAT)) {
            return a.data().asFloat();
        }
        INDArray f = a.castTo(DataType.FLOAT);
        INDArray c = f.dup('c');
        float[] v = c.data().asFloat();
        free(c);
        if (f != a) {
            free(f);
        }
        return v;
    }

    /** Frees an array's memory now, when it owns it (not a view, nor a workspace's). */
    public static void free(INDArray a) {
        if (a != null && a.closeable()) {
            a.close();
        }
    }
}
