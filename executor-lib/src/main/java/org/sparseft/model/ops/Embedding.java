package org.sparseft.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/** Row lookup of a [V, d] table, and its backward: a scatter-add of the output gradient into the used rows. */
public final class Embedding {
    private Embedding() {
    }

    public static INDArray forward(INDArray table, int[] ids) {
        return Nd4j.pullRows(table, 1, ids);
    }

    /** dTable[ids[i]] += dy[i] (repeated ids accumulate). */
    public static void backward(int[] ids, INDArray dy, INDArray dTable) {
        INDArray idx = Nd4j.createFromArray(ids);
        // scatter_add with the table as its own output: in place, no copy of the (large) table
        Nd4j.exec(DynamicCustomOp.builder("scatter_add")
                .addInputs(dTable, idx, dy.castTo(dTable.dataType()))
                .addOutputs(dTable)
                .build());
    }
}
