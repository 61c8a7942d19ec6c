package org.sparseft.ast;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.InvalidSettingException;
import org.sparseft.io.hf.SlorbBranch;
import org.sparseft.model.Parameters;

import java.util.Map;

/**
 * SLoRB, sparse low-rank boosting (docs/algorithms.md §8.4): beside each N:M-masked weight W [N, d], S [N, d/k] and a
 * trained projection P [d/k, d] add S·(P·x) to the linear's output, so the effective weight is M ⊙ W + S·P. P starts
 * as the block indicator of k consecutive inputs and S as the mean of each group's pruned weights, so the branch
 * starts by giving back what the initial mask removed, one value per (row, group).
 */
public final class Slorb {
    private Slorb() {
    }

    public static String s(String weight) {
        return SlorbBranch.s(weight);
    }

    public static String p(String weight) {
        return SlorbBranch.p(weight);
    }

    /** Refuses a weight whose inputs do not split into groups of {@code k}. */
    public static void checkFits(String weight, long in, int k) {
        if (in % k != 0) {
            throw InvalidSettingException.of("ast-slorb-group", k, "tensor '" + InvalidSettingException.literal(weight)
                    + "' has " + in + " inputs per row, not a multiple of " + k);
        }
    }

    /** Adds S and P of {@code weight} to {@code into}, initialised from W and the initial keep-mask. */
    public static void initialize(Map<String, INDArray> into, String weight, INDArray w, INDArray keep, int k) {
        long rows = w.rows();
        long in = w.columns();
        checkFits(weight, in, k);
        INDArray pruned = w.mul(keep.rsub(1.0)).dup('c');
        into.put(s(weight), pruned.reshape('c', rows, in / k, k).sum(2).divi(k).reshape(rows, in / k).dup('c'));
        INDArray proj = Nd4j.zeros(DataType.FLOAT, in / k, in);
        for (long g = 0; g < in / k; g++) {
            proj.get(org.nd4j.linalg.indexing.NDArrayIndex.point(g),
                    org.nd4j.linalg.indexing.NDArrayIndex.interval(g * k, (g + 1) * k)).assign(1.0);
        }
        into.put(p(weight), proj);
    }

    /** S·P, [N, d]: the branch as a dense weight. */
    public static INDArray term(Parameters trained, String weight) {
        return trained.get(s(weight)).mmul(trained.get(p(weight)));
    }

    /** From the gradient G of the effective weight: ∂S += G·Pᵀ, ∂P += Sᵀ·G. */
    public static void addGradients(Parameters trained, Parameters grads, String weight, INDArray g) {
        grads.get(s(weight)).addi(g.mmul(trained.get(p(weight)).transpose()));
        grads.get(p(weight)).addi(trained.get(s(weight)).transpose().mmul(g));
    }
}
