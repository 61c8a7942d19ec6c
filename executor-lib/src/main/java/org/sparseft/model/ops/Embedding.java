package org.sparseft.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;

/** Row lookup of a [V, d] table, and its backward: the output gradient summed into the used rows. */
public final class Embedding {
    private Embedding() {
    }

    public static INDArray forward(INDArray table, int[] ids) {
        return Nd4j.pullRows(table, 1, ids);
    }

    /**
     * dTable[ids[i]] += dy[i] (repeated ids accumulate), deterministically. A scatter-add of dy itself lets threads
     * add a repeated id's rows in varying order, so the same step gave different last bits from run to run; here the
     * rows of each distinct id are first summed by one GEMM (a [distinct, N] one-hot times dy, whose summation
     * order is fixed), and only then scattered, each target row once. The GEMM costs distinct·N·d FLOPs, under 1%
     * of a training step.
     */
    public static void backward(int[] ids, INDArray dy, INDArray dTable) {
        int[] distinct = Arrays.stream(ids).distinct().sorted().toArray();
        int[] slot = new int[(int) dTable.rows()];
        for (int s = 0; s < distinct.length; s++) {
            slot[distinct[s]] = s;
        }
        INDArray oneHot = Nd4j.zeros(dTable.dataType(), distinct.length, ids.length);
        for (int i = 0; i < ids.length; i++) {
            oneHot.putScalar(slot[ids[i]], i, 1.0);
        }
        INDArray sums = oneHot.mmul(dy.castTo(dTable.dataType()));
        // scatter_add with the table as its own output: in place, no copy of the (large) table
        Nd4j.exec(DynamicCustomOp.builder("scatter_add")
                .addInputs(dTable, Nd4j.createFromArray(distinct), sums)
                .addOutputs(dTable)
                .build());
    }
}
