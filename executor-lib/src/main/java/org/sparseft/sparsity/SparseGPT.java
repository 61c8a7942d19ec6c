package org.sparseft.sparsity;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.sparseft.InvalidSettingException;
import org.sparseft.RuntimeFailure;
import org.sparseft.numerics.Cholesky;
import org.sparseft.numerics.NativeBlas;

import java.nio.DoubleBuffer;
import java.util.Optional;

/**
 * SparseGPT (docs/algorithms.md §5, the reference's {@code fasterprune}): prunes one column at a time and, after each
 * column, corrects the not-yet-visited columns of every row with the optimal-brain-surgeon update through the upper
 * Cholesky factor U of H⁻¹, so unlike Wanda and DSnoT it changes the surviving weights. Computed in float64 (the
 * reference uses fp32; the extra precision costs little next to the O(in³) factorisation).
 *
 * <p>Unstructured masks are chosen per block of {@code blockSize} columns with one threshold shared by all rows, as
 * the reference does: the block's entries with w²/U_jj² at or below its ⌊numel·p⌋-th smallest value (0-based) are
 * pruned, i.e. ⌊numel·p⌋ + 1 of them without ties, so per-row counts vary. At p = 0 nothing is pruned (the reference
 * would still prune one entry per block). N:M chooses the N smallest w²/U_jj² of each group of every row, on the
 * weights as already updated.
 */
public final class SparseGPT {
    /**
     * @param percDamp λ = percDamp · mean(diag H) is added to the diagonal (the reference's 0.01)
     * @param blockSize columns per lazy-update block (the reference's 128)
     */
    public record Options(double percDamp, int blockSize) {
        public static final Options DEFAULTS = new Options(0.01, 128);

        public Options {
            if (!(percDamp > 0 && percDamp < 1)) {
                throw InvalidSettingException.of("sparsegpt-percdamp", percDamp, "expected a fraction in (0, 1)");
            }
            if (blockSize < 1) {
                throw InvalidSettingException.of("sparsegpt-blocksize", blockSize, "expected at least 1");
            }
        }
    }

    /** The pruned weight [out, in] (float32, pruned entries +0) and its keep-mask. */
    public record Result(INDArray weight, INDArray keep) {
    }

    private SparseGPT() {
    }

    /**
     * What SparseGPT needs from one input's statistics, whatever weight reads it: U (H⁻¹ = UᵀU, after the dead inputs
     * are set aside and H is damped) and which inputs are dead. Linears sharing an input (q/k/v, gate/up) share it,
     * so the O(in³) work is done once per input.
     */
    public record Factor(INDArray upper, boolean[] dead) {
    }

    public static Factor factor(FeatureStats stats, Options o) {
        if (stats == null || stats.gram() == null) {
            throw new IllegalArgumentException("SparseGPT needs the Gram matrix of the linear's inputs");
        }
        int cols = stats.features();
        INDArray h = stats.hessian();
        double[] diag = new double[cols];
        boolean[] dead = new boolean[cols];
        double sum = 0;
        for (int j = 0; j < cols; j++) { // dead inputs: never seen non-zero, so their weights cannot matter
            diag[j] = h.getDouble(j, j);
            if (!Double.isFinite(diag[j])) {
                throw new RuntimeFailure("SparseGPT: the calibration statistics of input " + j + " are not finite");
            }
            if (diag[j] == 0) {
                dead[j] = true;
                diag[j] = 1.0;
                h.putScalar(j, j, 1.0);
            }
            sum += diag[j];
        }
        double damp = o.percDamp() * sum / cols;
        for (int j = 0; j < cols; j++) {
            h.putScalar(j, j, diag[j] + damp);
        }
        try {
            return new Factor(Cholesky.upperFactorOfInverseInPlace(h), dead); // h is ours: factored where it lies
        } catch (Cholesky.NotPositiveDefinite e) {
            throw RuntimeFailure.advising("SparseGPT: the damped Hessian is not positive definite ("
                    + InvalidSettingException.literal(e.getMessage()) + "); raise {sparsegpt-percdamp}", e);
        }
    }

    /** Refuses a block size that does not split into {@code pattern}'s groups (N:M masks are chosen per block). */
    public static void checkBlockSize(int blockSize, SparsityPattern pattern) {
        int m = pattern.groupSize().orElse(1);
        if (blockSize % m != 0) {
            throw InvalidSettingException.of("sparsegpt-blocksize", blockSize, "expected a multiple of M = " + m
                    + " for {pattern} " + pattern.structure());
        }
    }

    public static Result prune(INDArray weight, FeatureStats stats, SparsityPattern pattern, Options o) {
        if (pattern.ratio() == 0) {
            return new Result(weight.castTo(DataType.FLOAT).dup(), Nd4j.onesLike(weight).castTo(DataType.FLOAT));
        }
        return prune(weight, factor(stats, o), pattern, o);
    }

    public static Result prune(INDArray weight, Factor factor, SparsityPattern pattern, Options o) {
        int rows = (int) weight.rows();
        int cols = (int) weight.columns();
        if (pattern.ratio() == 0) {
            return new Result(weight.castTo(DataType.FLOAT).dup(), Nd4j.ones(DataType.FLOAT, rows, cols));
        }
        int n = 0;
        int m = 0;
        if (pattern instanceof SparsityPattern.NOutOfM nm) {
            pattern.checkFits("weight", cols);
            checkBlockSize(o.blockSize(), pattern);
            n = nm.n();
            m = nm.m();
        }
        return columnSweep(weight, factor, null, pattern.ratio(), n, m, o);
    }

    /**
     * The optimal-brain-surgeon update with the mask held fixed (docs/algorithms.md, "weight update for any mask"):
     * SparseGPT's column sweep, pruning exactly the entries {@code keep} marks 0, so the kept weights absorb the
     * error of the pruned ones. The mask comes back unchanged; the kept weights of inputs the calibration never saw
     * stay as they are (their error spreads nowhere).
     *
     * @param keep the keep-mask [out, in] (1 kept, 0 pruned) chosen by another method
     */
    public static Result reconstruct(INDArray weight, Factor factor, INDArray keep, Options o) {
        if (!java.util.Arrays.equals(weight.shape(), keep.shape())) {
            throw new IllegalArgumentException("a keep-mask of shape " + java.util.Arrays.toString(keep.shape())
                    + " for a weight of " + java.util.Arrays.toString(weight.shape()));
        }
        return columnSweep(weight, factor, keep, 0, 0, 0, o);
    }

    /**
     * SparseGPT's sweep over blocks of columns: masks chosen per block (unstructured at {@code ratio}, or N:M inside
     * the sweep) or taken from {@code givenKeep}, then the lazy update of every later column with one GEMM.
     */
    private static Result columnSweep(INDArray weight, Factor factor, INDArray givenKeep, double ratio, int n, int m,
                                      Options o) {
        int rows = (int) weight.rows();
        int cols = (int) weight.columns();
        if (factor.dead().length != cols) {
            throw new IllegalArgumentException("a factor of " + factor.dead().length + " inputs for a weight of "
                    + cols);
        }
        INDArray w = weight.castTo(DataType.DOUBLE).dup('c');
        if (givenKeep == null) { // SparseGPT's own rule; a given mask keeps what it keeps
            for (int j = 0; j < cols; j++) {
                if (factor.dead()[j]) {
                    w.getColumn(j).assign(0);
                }
            }
        }
        INDArray u = factor.upper();
        Optional<NativeBlas.Lapack> blas = NativeBlas.lapack();
        // the OpenBLAS path reads and updates w where it lies; otherwise (the CUDA backend) through ND4J copies
        DoubleBuffer wb = blas.isPresent() && NativeBlas.isWholeRowMajor(w, DataType.DOUBLE)
                && NativeBlas.isWholeRowMajor(u, DataType.DOUBLE) ? NativeBlas.doubles(w) : null;
        DoubleBuffer ub = wb == null ? null : NativeBlas.doubles(u);
        INDArray err = wb == null ? null : Nd4j.createUninitialized(DataType.DOUBLE, rows, o.blockSize());
        DoubleBuffer eb = err == null ? null : NativeBlas.doubles(err);
        float[] keep = new float[rows * cols];
        for (int i1 = 0; i1 < cols; i1 += o.blockSize()) {
            int i2 = Math.min(i1 + o.blockSize(), cols);
            int count = i2 - i1;
            double[] w1;
            double[] u1;
            if (wb != null) {
                w1 = new double[rows * count];
                u1 = new double[count * count];
                for (int r = 0; r < rows; r++) {
                    wb.get(r * cols + i1, w1, r * count, count);
                }
                for (int r = 0; r < count; r++) {
                    ub.get((i1 + r) * cols + i1, u1, r * count, count);
                }
            } else {
                w1 = w.get(NDArrayIndex.all(), NDArrayIndex.interval(i1, i2)).dup('c').data().asDouble();
                u1 = u.get(NDArrayIndex.interval(i1, i2), NDArrayIndex.interval(i1, i2)).dup('c').data().asDouble();
            }
            boolean[] mask1 = new boolean[rows * count]; // true = pruned
            if (givenKeep != null) {
                double[] k1 = givenKeep.get(NDArrayIndex.all(), NDArrayIndex.interval(i1, i2)).castTo(DataType.DOUBLE)
                        .dup('c').data().asDouble();
                for (int k = 0; k < k1.length; k++) {
                    mask1[k] = k1[k] == 0;
                }
            } else if (m == 0) {
                double[] score = new double[rows * count];
                for (int k = 0; k < score.length; k++) {
                    double dj = u1[(k % count) * count + k % count];
                    score[k] = w1[k] * w1[k] / (dj * dj);
                }
                // the value of rank ⌊numel·p⌋, as the reference reads it off a full sort
                double threshold = MaskSelection.kthLowest(score.clone(), (int) (score.length * ratio));
                for (int k = 0; k < score.length; k++) {
                    mask1[k] = score[k] <= threshold;
                }
            }
            double[] err1 = sweep(w1, u1, mask1, rows, count, n, m);
            // the block's final values: q, the updated weights with the pruned ones removed
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < count; c++) {
                    boolean pruned = mask1[r * count + c];
                    keep[r * cols + i1 + c] = pruned ? 0f : 1f;
                    if (pruned) {
                        w1[r * count + c] = 0.0;
                    }
                }
            }
            if (wb != null) {
                for (int r = 0; r < rows; r++) {
                    wb.put(r * cols + i1, w1, r * count, count);
                }
            } else {
                w.get(NDArrayIndex.all(), NDArrayIndex.interval(i1, i2))
                        .assign(Nd4j.create(w1, new long[] {rows, count}, 'c'));
            }
            if (i2 < cols) { // the lazy update of every later column: one GEMM per block
                if (wb != null) { // W[:, i2:] −= E·U[i1:i2, i2:], in place (column-major: Wᵀ −= Uᵀ·Eᵀ)
                    eb.put(0, err1, 0, err1.length);
                    blas.get().gemm(cols - i2, rows, count, -1.0, address(u, (long) i1 * cols + i2), cols,
                            address(err, 0), count, 1.0, address(w, i2), cols);
                    java.lang.ref.Reference.reachabilityFence(err); // its memory was handed over by address
                } else {
                    INDArray e = Nd4j.create(err1, new long[] {rows, count}, 'c');
                    w.get(NDArrayIndex.all(), NDArrayIndex.interval(i2, cols))
                            .subi(e.mmul(u.get(NDArrayIndex.interval(i1, i2), NDArrayIndex.interval(i2, cols))));
                }
            }
        }
        INDArray keepFloat = Nd4j.create(keep, new long[] {rows, cols}, 'c');
        // + 0 turns the −0 of a pruned negative weight into +0, so pruned bytes are all zero
        INDArray result = w.castTo(DataType.FLOAT).muli(keepFloat).addi(0f);
        return new Result(result, keepFloat);
    }

    private static long address(INDArray a, long element) {
        return a.data().address() + element * Double.BYTES;
    }

    /**
     * The column-by-column part inside one block: for each column i, prune, then correct columns i.. of every row
     * with the row's error times U's row i. Sequential along columns, so it is a loop over a [rows, count] block
     * (rows·count²/2 multiply-adds); all work across blocks is GEMM. Returns the errors (w − q)/U_ii, [rows, count].
     */
    private static double[] sweep(double[] w1, double[] u1, boolean[] mask1, int rows, int count, int n, int m) {
        double[] err1 = new double[rows * count];
        double[] saliency = new double[Math.max(m, 1)];
        for (int i = 0; i < count; i++) {
            double d = u1[i * count + i];
            for (int r = 0; r < rows; r++) {
                int base = r * count;
                if (m != 0 && i % m == 0) { // N:M: the n least salient of the group, on the updated weights
                    for (int k = 0; k < m; k++) {
                        double dk = u1[(i + k) * count + i + k];
                        saliency[k] = w1[base + i + k] * w1[base + i + k] / (dk * dk);
                    }
                    for (int k = 0; k < m; k++) {
                        int rank = 0; // how many come before k: smaller, or equal at a lower index
                        for (int l = 0; l < m; l++) {
                            if (saliency[l] < saliency[k] || (saliency[l] == saliency[k] && l < k)) {
                                rank++;
                            }
                        }
                        mask1[base + i + k] = rank < n;
                    }
                }
                if (!mask1[base + i]) {
                    continue; // kept: q = w, no error to spread
                }
                double e = w1[base + i] / d;
                err1[base + i] = e;
                for (int j = i; j < count; j++) {
                    w1[base + j] -= e * u1[i * count + j];
                }
            }
        }
        return err1;
    }

    /** The layer's reconstruction error Σ_tokens ‖(W − Ŵ)x‖² / N_seq, as tr((W − Ŵ) H (W − Ŵ)ᵀ) / 2. */
    public static double reconstructionError(INDArray dense, INDArray pruned, FeatureStats stats) {
        INDArray delta = dense.castTo(DataType.DOUBLE).sub(pruned.castTo(DataType.DOUBLE));
        return delta.mmul(stats.hessian()).muli(delta).sumNumber().doubleValue() / 2;
    }
}
