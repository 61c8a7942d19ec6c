package org.sparseft.model.ops;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;

/** Row lookup of a [V, d] table, and its backward: the output gradient summed into the used rows. */
public final class Embedding {
    /** Distinct ids per one-hot block: bounds the block at CHUNK·N values whatever the vocabulary. */
    private static final int CHUNK = 1024;

    private Embedding() {
    }

    public static INDArray forward(INDArray table, int[] ids) {
        return Nd4j.pullRows(table, 1, ids);
    }

    /**
     * dTable[ids[i]] += dy[i] (repeated ids accumulate), deterministically. A scatter-add of dy itself lets threads
     * add a repeated id's rows in varying order, so the same step gave different last bits from run to run; here the
     * rows of each distinct id are first summed by a GEMM (a [distinct, N] one-hot times dy, whose summation order is
     * fixed), in blocks of at most 1024 distinct ids, and only then scattered, each target row once. The GEMMs cost
     * 2·distinct·N·d FLOPs: about 1/V of the LM head's for a V-token vocabulary. Nothing when {@code dTable} is null
     * (a frozen table).
     */
    public static void backward(int[] ids, INDArray dy, INDArray dTable) {
        if (dTable == null) {
            return;
        }
        int n = ids.length;
        int[] distinct = Arrays.stream(ids).distinct().sorted().toArray();
        int[] slot = new int[(int) dTable.rows()];
        for (int s = 0; s < distinct.length; s++) {
            slot[distinct[s]] = s;
        }
        DataType type = dTable.dataType();
        INDArray g = dy.castTo(type);
        for (int from = 0; from < distinct.length; from += CHUNK) {
            int to = Math.min(distinct.length, from + CHUNK);
            INDArray oneHot;
            if (type == DataType.DOUBLE) {
                double[] v = new double[(to - from) * n];
                for (int i = 0; i < n; i++) {
                    int s = slot[ids[i]];
                    if (s >= from && s < to) {
                        v[(s - from) * n + i] = 1;
                    }
                }
                oneHot = Nd4j.create(v, new long[] {to - from, n}, DataType.DOUBLE);
            } else {
                float[] v = new float[(to - from) * n];
                for (int i = 0; i < n; i++) {
                    int s = slot[ids[i]];
                    if (s >= from && s < to) {
                        v[(s - from) * n + i] = 1;
                    }
                }
                oneHot = Nd4j.create(v, new long[] {to - from, n}, 'c').castTo(type);
            }
            // scatter_add with the table as its own output: in place, no copy of the (large) table
            Nd4j.exec(DynamicCustomOp.builder("scatter_add")
                    .addInputs(dTable, Nd4j.createFromArray(Arrays.copyOfRange(distinct, from, to)), oneHot.mmul(g))
                    .addOutputs(dTable)
                    .build());
        }
    }
}
