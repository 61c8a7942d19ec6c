package org.sparseft.numerics;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.nio.DoubleBuffer;
import java.util.Optional;

/**
 * Cholesky factors and triangular inverses in float64: what SparseGPT's update needs, and what {@link NativeBlas}
 * checks at start-up. Both are sparseft's own, blocked so that their work is dgemm: the dpotrf and dtrtri of the
 * OpenBLAS that ND4J bundles (0.3.19) are wrong with the SkylakeX kernels that sparseft chooses on AVX-512 processors
 * (a factor off by 0.03-0.08 at 48-300 columns, an inverse wrong from 130 columns, right at 48, seen on an Emerald
 * Rapids Xeon), while its dgemm is right there, and those kernels' sgemm trains 1.3-1.7 times faster than the AVX2
 * ones.
 */
public final class Cholesky {
    private Cholesky() {
    }

    /** The matrix has no Cholesky factor (LAPACK's dpotrf stopped at a non-positive pivot). */
    public static final class NotPositiveDefinite extends RuntimeException {
        NotPositiveDefinite(Throwable lapack) {
            super(lapack.getMessage(), lapack);
        }

        NotPositiveDefinite(String message) {
            super(message);
        }
    }

    /**
     * U with H⁻¹ = UᵀU. The reference factors H, inverts, and factors again; the same U comes from one factorisation:
     * with J the reversal permutation and L the lower Cholesky factor of JHJ, H = (JLJ)(JLJ)ᵀ with JLJ upper
     * triangular, so H⁻¹ = UᵀU for U = (JLJ)⁻¹ = J L⁻¹ J (Cholesky factors are unique). J A J of a row-major matrix
     * is its element array reversed. {@code h} is left as it was.
     */
    public static INDArray upperFactorOfInverse(INDArray h) {
        return upperFactorOfInverseInPlace(h.dup('c'));
    }

    /**
     * {@link #upperFactorOfInverse} computed in {@code h}'s own memory, which it overwrites and returns, when {@code h}
     * is a contiguous row-major float64 matrix and the BLAS is the loaded OpenBLAS: the factorisation and the
     * inverse in place, so a d × d factor costs no memory beyond its input and two d × {@value #BLOCK} panels (at
     * d = 11008, a 7B model's MLP input, one copy is 0.97 GB, and each fresh copy costs its page faults). Otherwise
     * through a copy, and {@code h} is left as it was.
     */
    public static INDArray upperFactorOfInverseInPlace(INDArray h) {
        int d = square(h);
        Optional<NativeBlas.Lapack> lapack = NativeBlas.lapack();
        if (lapack.isEmpty()) {
            INDArray lower = factor(Nd4j.create(reversed(h), new long[] {d, d}, 'c'), true);
            return Nd4j.create(reversed(lowerTriangularInverse(lower)), new long[] {d, d}, 'c');
        }
        INDArray work = NativeBlas.isWholeRowMajor(h, DataType.DOUBLE) ? h : rowMajorCopy(h, d);
        DoubleBuffer a = NativeBlas.doubles(work);
        reverse(a, d * d);
        lowerFactorInPlace(lapack.get(), work, d);
        invertLowerInPlace(lapack.get(), work, d);
        zeroAboveDiagonal(a, d); // where what was left of the input lies
        reverse(a, d * d);
        return work;
    }

    /**
     * The lower Cholesky factor L of the symmetric positive definite {@code a} (A = L·Lᵀ), with zeros above the
     * diagonal; {@code a} is left as it was.
     *
     * @throws NotPositiveDefinite when {@code a} has no Cholesky factor
     */
    public static INDArray lowerFactor(INDArray a) {
        int d = square(a);
        Optional<NativeBlas.Lapack> lapack = NativeBlas.lapack();
        if (lapack.isEmpty()) {
            return factor(a, true);
        }
        INDArray l = rowMajorCopy(a, d);
        lowerFactorInPlace(lapack.get(), l, d);
        zeroAboveDiagonal(NativeBlas.doubles(l), d);
        return l;
    }

    /** Columns per block of the factorisation and inverse: their GEMMs are this wide, their direct solves this small. */
    static final int BLOCK = 128;

    /**
     * Overwrites the lower triangle (with the diagonal) of the row-major d × d float64 matrix {@code a}, which must
     * pass {@link NativeBlas#isWholeRowMajor}, with its Cholesky factor L; reads only that triangle, and leaves the
     * one above the diagonal undefined. Left-looking by blocks of {@link #BLOCK} columns: a block column is brought
     * up to date by one dgemm with the finished columns left of it, its diagonal block is factored and inverted
     * directly (BLOCK³/3 multiply-adds, under 0.1% of the work at d = 11008), and the rows below it are solved by a
     * dgemm with that inverse.
     */
    static void lowerFactorInPlace(NativeBlas.Lapack blas, INDArray a, int d) {
        DoubleBuffer v = NativeBlas.doubles(a);
        long base = a.data().address();
        INDArray panel = d > BLOCK ? Nd4j.createUninitialized(DataType.DOUBLE, (long) d - BLOCK, BLOCK) : null;
        INDArray inverse = Nd4j.createUninitialized(DataType.DOUBLE, BLOCK, BLOCK);
        double[] block = new double[BLOCK * BLOCK];
        double[] blockInverse = new double[BLOCK * BLOCK];
        for (int j0 = 0; j0 < d; j0 += BLOCK) {
            int jb = Math.min(BLOCK, d - j0);
            long diagonal = base + 8L * ((long) j0 * d + j0);
            if (j0 > 0) { // A[j0:, j0:j0+jb] -= L[j0:, :j0] · L[j0:j0+jb, :j0]ᵀ
                long left = base + 8L * j0 * d;
                product(blas, true, d - j0, jb, j0, -1.0, left, d, left, d, 1.0, diagonal, d);
            }
            readBlock(v, d, j0, jb, block);
            factorDirectly(block, jb, j0);
            writeLower(v, d, j0, jb, block);
            int below = d - j0 - jb;
            if (below == 0) {
                break;
            }
            // L[j0+jb:, j0:j0+jb] = A[j0+jb:, j0:j0+jb] · L11⁻ᵀ, through a copy: GEMM's output may not be its input
            invertLowerDirectly(block, blockInverse, jb);
            NativeBlas.doubles(inverse).put(blockInverse, 0, jb * jb);
            copyOut(v, d, j0 + jb, below, j0, jb, panel);
            product(blas, true, below, jb, jb, 1.0, panel.data().address(), jb, inverse.data().address(), jb, 0.0,
                    diagonal + 8L * jb * d, d);
        }
        java.lang.ref.Reference.reachabilityFence(panel);
        java.lang.ref.Reference.reachabilityFence(inverse);
    }

    /**
     * Overwrites the lower-triangular L in the lower triangle of the row-major d × d float64 matrix {@code a} with
     * L⁻¹, and the diagonal blocks' upper parts with zeros; the rest above the diagonal is neither read nor written.
     * By blocks of {@link #BLOCK} columns from the last: with L = [[L11, 0], [L21, L22]] and L22⁻¹ done,
     * L⁻¹'s block below L11⁻¹ is −(L22⁻¹·L21)·L11⁻¹, where L22⁻¹·L21 is one dgemm per block row of L22⁻¹, each
     * stopping at its diagonal block (a triangular product's multiply-adds, by the GEMM that is right here).
     */
    static void invertLowerInPlace(NativeBlas.Lapack blas, INDArray a, int d) {
        DoubleBuffer v = NativeBlas.doubles(a);
        long base = a.data().address();
        INDArray panel = d > BLOCK ? Nd4j.createUninitialized(DataType.DOUBLE, (long) d - BLOCK, BLOCK) : null;
        INDArray solved = d > BLOCK ? Nd4j.createUninitialized(DataType.DOUBLE, (long) d - BLOCK, BLOCK) : null;
        double[] block = new double[BLOCK * BLOCK];
        double[] blockInverse = new double[BLOCK * BLOCK];
        for (int j0 = (d - 1) / BLOCK * BLOCK; j0 >= 0; j0 -= BLOCK) {
            int jb = Math.min(BLOCK, d - j0);
            readBlock(v, d, j0, jb, block);
            invertLowerDirectly(block, blockInverse, jb);
            for (int i = 0; i < jb; i++) { // the whole block, zeros above its diagonal: the products below read them
                v.position((j0 + i) * d + j0);
                v.put(blockInverse, i * jb, jb);
            }
            int start = j0 + jb;
            int below = d - start;
            if (below == 0) {
                continue;
            }
            copyOut(v, d, start, below, j0, jb, panel); // L21
            for (int k0 = start; k0 < d; k0 += BLOCK) { // (L22⁻¹·L21)[k0 block] = L22⁻¹[k0 block, start:k0+kb]·L21
                int kb = Math.min(BLOCK, d - k0);
                product(blas, false, kb, jb, k0 + kb - start, 1.0, base + 8L * ((long) k0 * d + start), d,
                        panel.data().address(), jb, 0.0, solved.data().address() + 8L * (k0 - start) * jb, jb);
            }
            product(blas, false, below, jb, jb, -1.0, solved.data().address(), jb,
                    base + 8L * ((long) j0 * d + j0), d, 0.0, base + 8L * ((long) start * d + j0), d);
        }
        java.lang.ref.Reference.reachabilityFence(panel);
        java.lang.ref.Reference.reachabilityFence(solved);
    }

    /**
     * Row-major C = α·A·op(B) + β·C, A m × k, op(B) k × n (B stored n × k when transposed), each a block at its
     * address with its row stride: the column-major dgemm of the transposes, Cᵀ = op(B)ᵀ·Aᵀ.
     */
    private static void product(NativeBlas.Lapack blas, boolean transposeB, int m, int n, int k, double alpha, long a,
                                int lda, long b, int ldb, double beta, long c, int ldc) {
        blas.gemm(transposeB, false, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
    }

    private static void zeroAboveDiagonal(DoubleBuffer v, int d) {
        double[] zeros = new double[d];
        for (int i = 0; i < d - 1; i++) {
            v.position(i * d + i + 1);
            v.put(zeros, 0, d - i - 1);
        }
    }

    /** The jb × jb diagonal block at (j0, j0)'s lower triangle into {@code block} (row-major, stride jb). */
    private static void readBlock(DoubleBuffer v, int d, int j0, int jb, double[] block) {
        for (int i = 0; i < jb; i++) {
            v.position((j0 + i) * d + j0);
            v.get(block, i * jb, i + 1);
        }
    }

    private static void writeLower(DoubleBuffer v, int d, int j0, int jb, double[] block) {
        for (int i = 0; i < jb; i++) {
            v.position((j0 + i) * d + j0);
            v.put(block, i * jb, i + 1);
        }
    }

    /** Rows [r0, r0 + rows) of columns [c0, c0 + cols) into {@code out}, row-major with stride cols. */
    private static void copyOut(DoubleBuffer v, int d, int r0, int rows, int c0, int cols, INDArray out) {
        DoubleBuffer o = NativeBlas.doubles(out);
        double[] row = new double[cols];
        for (int i = 0; i < rows; i++) {
            v.position((r0 + i) * d + c0);
            v.get(row);
            o.position(i * cols);
            o.put(row);
        }
    }

    /** The lower Cholesky factor of the n × n row-major block's lower triangle, in place; {@code offset} for errors. */
    private static void factorDirectly(double[] b, int n, int offset) {
        for (int j = 0; j < n; j++) {
            double s = b[j * n + j];
            for (int k = 0; k < j; k++) {
                s -= b[j * n + k] * b[j * n + k];
            }
            if (!(s > 0)) {
                throw new NotPositiveDefinite("the leading minor of order " + (offset + j + 1)
                        + " is not positive definite");
            }
            double pivot = Math.sqrt(s);
            b[j * n + j] = pivot;
            for (int i = j + 1; i < n; i++) {
                double t = b[i * n + j];
                for (int k = 0; k < j; k++) {
                    t -= b[i * n + k] * b[j * n + k];
                }
                b[i * n + j] = t / pivot;
            }
        }
    }

    /** The inverse of the n × n row-major lower-triangular block {@code l} into {@code x} (zeros above). */
    private static void invertLowerDirectly(double[] l, double[] x, int n) {
        java.util.Arrays.fill(x, 0, n * n, 0.0);
        for (int c = 0; c < n; c++) { // column c of the inverse: forward substitution of e_c
            for (int r = c; r < n; r++) {
                double s = r == c ? 1.0 : 0.0;
                for (int k = c; k < r; k++) {
                    s -= l[r * n + k] * x[k * n + c];
                }
                x[r * n + c] = s / l[r * n + r];
            }
        }
    }

    /** A float64 copy of the d × d matrix that {@link NativeBlas#isWholeRowMajor} accepts, whatever the original. */
    private static INDArray rowMajorCopy(INDArray a, int d) {
        return Nd4j.create(a.dup('c').data().asDouble(), new long[] {d, d}, 'c');
    }

    private static int square(INDArray h) {
        if (h.rank() != 2 || h.rows() != h.columns()) {
            throw new IllegalArgumentException("a " + java.util.Arrays.toString(h.shape()) + " matrix is not square");
        }
        return (int) h.rows();
    }

    private static void reverse(DoubleBuffer a, int n) {
        for (int i = 0, j = n - 1; i < j; i++, j--) {
            double t = a.get(i);
            a.put(i, a.get(j));
            a.put(j, t);
        }
    }

    private static double[] reversed(INDArray a) {
        double[] v = a.dup('c').data().asDouble();
        for (int i = 0, j = v.length - 1; i < j; i++, j--) {
            double t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
        return v;
    }

    /**
     * L⁻¹ of a lower-triangular L by halves, [[A, 0], [B, C]]⁻¹ = [[A⁻¹, 0], [−C⁻¹BA⁻¹, C⁻¹]], so the work is GEMM;
     * blocks of 64 or fewer rows are solved directly.
     */
    public static INDArray lowerTriangularInverse(INDArray l) {
        int d = (int) l.rows();
        if (d <= 64) {
            double[] x = new double[d * d];
            invertLowerDirectly(l.dup('c').data().asDouble(), x, d);
            return Nd4j.create(x, new long[] {d, d}, 'c');
        }
        int k = d / 2;
        INDArray ai = lowerTriangularInverse(l.get(NDArrayIndex.interval(0, k), NDArrayIndex.interval(0, k)).dup('c'));
        INDArray ci = lowerTriangularInverse(l.get(NDArrayIndex.interval(k, d), NDArrayIndex.interval(k, d)).dup('c'));
        INDArray b = l.get(NDArrayIndex.interval(k, d), NDArrayIndex.interval(0, k)).dup('c');
        INDArray out = Nd4j.zeros(DataType.DOUBLE, d, d);
        out.get(NDArrayIndex.interval(0, k), NDArrayIndex.interval(0, k)).assign(ai);
        out.get(NDArrayIndex.interval(k, d), NDArrayIndex.interval(k, d)).assign(ci);
        out.get(NDArrayIndex.interval(k, d), NDArrayIndex.interval(0, k)).assign(ci.mmul(b).mmul(ai).negi());
        return out;
    }

    /**
     * The lower (L, A = LLᵀ) or upper (U, A = UᵀU) Cholesky factor by the backend's LAPACK, with the other triangle
     * zero: only where there is no OpenBLAS to call directly (the CUDA backend; cuSOLVER is not the CPU library).
     *
     * @throws NotPositiveDefinite when LAPACK cannot factor {@code a}
     */
    private static INDArray factor(INDArray a, boolean lower) {
        INDArray f = a.dup('c');
        try {
            Nd4j.getBlasWrapper().lapack().potrf(f, lower);
        } catch (RuntimeException | Error e) { // ND4J reports LAPACK failures as BlasException, an Error
            throw new NotPositiveDefinite(e);
        }
        INDArray lowerTriangle = Nd4j.tri(a.rows(), a.columns(), 0).castTo(DataType.DOUBLE);
        return f.muli(lower ? lowerTriangle : lowerTriangle.transpose());
    }
}
