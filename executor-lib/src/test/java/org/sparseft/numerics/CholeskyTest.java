package org.sparseft.numerics;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CholeskyTest {
    /** XᵀX + I of a random X: symmetric positive definite, with a condition number in the hundreds. */
    private static INDArray spd(int d, long seed) {
        Random r = new Random(seed);
        double[] x = new double[2 * d * d];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextGaussian();
        }
        INDArray m = Nd4j.create(x, new long[] {2L * d, d}, 'c');
        return m.transpose().mmul(m).addi(Nd4j.eye(d).castTo(DataType.DOUBLE)).dup('c');
    }

    @Test
    void inPlaceFactorIsUpperTriangularInvertsTheMatrixAndMatchesTheCopyingPath() {
        assertTrue(NativeBlas.lapack().isPresent(), "the CPU backend loads OpenBLAS: the in-place path must run");
        int d = 517; // past OpenBLAS's blocking (and its threading threshold) for dpotrf and dtrtri
        INDArray h = spd(d, 7);
        INDArray work = h.dup('c');
        INDArray u = Cholesky.upperFactorOfInverseInPlace(work);
        assertSame(work, u, "computed where the input lay");
        double[] v = u.data().asDouble();
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < i; j++) {
                assertEquals(0.0, v[i * d + j], "U[" + i + "," + j + "] below the diagonal");
            }
            assertTrue(v[i * d + i] > 0, "U's diagonal is positive");
        }
        double residual = u.transpose().mmul(u).mmul(h).subi(Nd4j.eye(d).castTo(DataType.DOUBLE)).amaxNumber()
                .doubleValue();
        assertTrue(residual < 1e-9, "|UᵀUH − I| = " + residual);
        INDArray reshaped = Nd4j.createFromArray(h.data().asDouble()).reshape('c', d, d); // as Hessians are built
        assertSame(reshaped, Cholesky.upperFactorOfInverseInPlace(reshaped), "a reshaped vector is factored in place");
        INDArray copying = Cholesky.upperFactorOfInverseInPlace(h.dup('f')); // not row-major: the copying path
        double diff = copying.sub(u).amaxNumber().doubleValue();
        assertTrue(diff < 1e-12 * u.amaxNumber().doubleValue() * d, "paths differ by " + diff);
    }

    /**
     * L·Lᵀ of a known lower-triangular L: the factor must give L back, and the inverse's factor invert it, at and
     * around block edges.
     */
    @Test
    void theBlockedFactorGivesBackAKnownFactor() {
        Random r = new Random(11);
        for (int d : new int[] {1, 5, Cholesky.BLOCK - 1, Cholesky.BLOCK, Cholesky.BLOCK + 1, 3 * Cholesky.BLOCK + 7}) {
            double[] l = new double[d * d];
            for (int i = 0; i < d; i++) {
                for (int j = 0; j < i; j++) {
                    l[i * d + j] = (r.nextDouble() - 0.5) / Math.sqrt(d);
                }
                l[i * d + i] = 1 + r.nextDouble();
            }
            INDArray lower = Nd4j.create(l, new long[] {d, d}, 'c');
            INDArray a = lower.mmul(lower.transpose()).dup('c');
            INDArray before = a.dup();
            INDArray got = Cholesky.lowerFactor(a);
            assertEquals(before, a, "the input is left as it was");
            double diff = got.sub(lower).amaxNumber().doubleValue();
            assertTrue(diff < 1e-12, "d = " + d + ": factor off by " + diff);
            INDArray u = Cholesky.upperFactorOfInverse(a); // the factor of JAJ and the blocked triangular inverse
            double residual = u.transpose().mmul(u).mmul(a).subi(Nd4j.eye(d).castTo(DataType.DOUBLE)).amaxNumber()
                    .doubleValue();
            assertTrue(residual < 1e-10, "d = " + d + ": |UᵀUA − I| = " + residual);
        }
    }

    @Test
    void aNonPositivePivotIsNamedByItsOrder() {
        int d = 2 * Cholesky.BLOCK + 40;
        INDArray h = spd(d, 5);
        h.putScalar(Cholesky.BLOCK + 9, Cholesky.BLOCK + 9, -1e6); // in the second block column
        Cholesky.NotPositiveDefinite e = assertThrows(Cholesky.NotPositiveDefinite.class,
                () -> Cholesky.lowerFactor(h));
        assertTrue(e.getMessage().contains("order " + (Cholesky.BLOCK + 10)), e.getMessage());
    }

    @Test
    void anIndefiniteMatrixIsRefusedByBothPaths() {
        INDArray h = spd(40, 3);
        h.putScalar(20, 20, -1.0);
        assertThrows(Cholesky.NotPositiveDefinite.class, () -> Cholesky.upperFactorOfInverseInPlace(h.dup('c')));
        assertThrows(Cholesky.NotPositiveDefinite.class, () -> Cholesky.upperFactorOfInverseInPlace(h.dup('f')));
    }
}
