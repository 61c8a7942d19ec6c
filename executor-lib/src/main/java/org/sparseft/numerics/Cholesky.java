package org.sparseft.numerics;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.nio.DoubleBuffer;
import java.util.Optional;

/**
 * Cholesky factors and triangular inverses in float64 through LAPACK and GEMM: what SparseGPT's update needs, and
 * what {@link NativeBlas} checks at start-up.
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
     * is a contiguous row-major float64 matrix and the BLAS is the loaded OpenBLAS: dpotrf and dtrtri in place, so a
     * d × d factor costs no memory beyond its input (at d = 11008, a 7B model's MLP input, one copy is 0.97 GB, and
     * each fresh copy costs its page faults). Otherwise through copies, and {@code h} is left as it was.
     */
    public static INDArray upperFactorOfInverseInPlace(INDArray h) {
        int d = (int) h.rows();
        if (h.columns() != d) {
            throw new IllegalArgumentException("a " + h.rows() + "x" + h.columns() + " matrix is not square");
        }
        Optional<NativeBlas.Lapack> lapack = NativeBlas.lapack();
        if (lapack.isEmpty() || !NativeBlas.isWholeRowMajor(h, DataType.DOUBLE)) {
            INDArray lower = factor(Nd4j.create(reversed(h), new long[] {d, d}, 'c'), true);
            return Nd4j.create(reversed(lowerTriangularInverse(lower)), new long[] {d, d}, 'c');
        }
        DoubleBuffer a = NativeBlas.doubles(h);
        reverse(a, d * d);
        // row-major lower is column-major upper: LAPACK sees Lᵀ, factors and inverts it where it lies
        int info = lapack.get().potrfUpper(h.data().address(), d);
        if (info != 0) {
            throw new NotPositiveDefinite("dpotrf: " + (info > 0 ? "the leading minor of order " + info
                    + " is not positive definite" : "argument " + (-info) + " is invalid"));
        }
        info = lapack.get().trtriUpper(h.data().address(), d);
        if (info != 0) {
            throw new NotPositiveDefinite("dtrtri: " + (info > 0 ? "the factor is singular at " + info
                    : "argument " + (-info) + " is invalid"));
        }
        double[] zeros = new double[d];
        for (int i = 0; i < d - 1; i++) { // above L⁻¹'s diagonal (row-major) lies what is left of the input
            a.position(i * d + i + 1);
            a.put(zeros, 0, d - i - 1);
        }
        reverse(a, d * d);
        return h;
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
            double[] a = l.dup('c').data().asDouble();
            double[] x = new double[d * d];
            for (int c = 0; c < d; c++) { // column c of the inverse: forward substitution of e_c
                for (int r = c; r < d; r++) {
                    double s = r == c ? 1.0 : 0.0;
                    for (int k = c; k < r; k++) {
                        s -= a[r * d + k] * x[k * d + c];
                    }
                    x[r * d + c] = s / a[r * d + r];
                }
            }
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
     * The lower (L, A = LLᵀ) or upper (U, A = UᵀU) Cholesky factor, with the other triangle zero.
     *
     * @throws NotPositiveDefinite when LAPACK cannot factor {@code a}
     */
    public static INDArray factor(INDArray a, boolean lower) {
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
