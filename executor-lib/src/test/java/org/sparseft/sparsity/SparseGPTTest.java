package org.sparseft.sparsity;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.BadInputException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SparseGPTTest {
    /** Statistics whose Hessian (2/N_seq)·G is exactly {@code h}. */
    private static FeatureStats withHessian(double[][] h) {
        int d = h.length;
        double[] gram = new double[d * (d + 1) / 2]; // the lower triangle, row after row
        for (int i = 0, k = 0; i < d; i++) {
            for (int j = 0; j <= i; j++) {
                gram[k++] = h[i][j];
            }
        }
        return new FeatureStats(2, 8, new double[d], new double[d], new double[d], gram);
    }

    /** Calibration-like inputs with correlated features, [tokens, features]. */
    private static FeatureStats correlated(int features, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray z = Nd4j.randn(DataType.FLOAT, 512, features);
        INDArray mix = Nd4j.randn(DataType.FLOAT, features, features).muli(0.3).addi(Nd4j.eye(features));
        return FeatureStats.of(z.mmul(mix), 8, 64, true);
    }

    @Test
    void pruningOneOfTwoMovesItsContributionOntoTheOther() {
        // H = [[4, 2], [2, 3]] + 0.035·I (1% of the mean diagonal). Pruning w0 and re-solving for w1 gives
        // w1 + w0·H01/H11: the closed form the OBS update must reproduce through the Cholesky factor of H⁻¹.
        FeatureStats stats = withHessian(new double[][] {{4, 2}, {2, 3}});
        SparseGPT.Result r = SparseGPT.prune(Nd4j.createFromArray(new float[][] {{1, 3}}), stats,
                new SparsityPattern.NOutOfM(1, 2), SparseGPT.Options.DEFAULTS);
        assertArrayEquals(new float[] {0, (float) (3 + 2 / 3.035)}, r.weight().toFloatVector(), 1e-6f);
        assertArrayEquals(new float[] {0, 1}, r.keep().toFloatVector(), 0f);
        // with the values swapped, w1 has the lower saliency w²/U_jj² and is the one pruned
        SparseGPT.Result other = SparseGPT.prune(Nd4j.createFromArray(new float[][] {{3, 1}}), stats,
                new SparsityPattern.NOutOfM(1, 2), SparseGPT.Options.DEFAULTS);
        assertArrayEquals(new float[] {1, 0}, other.keep().toFloatVector(), 0f);
    }

    @Test
    void upperFactorOfTheInverse() {
        INDArray h = Nd4j.createFromArray(new double[][] {{4, 2, 0.5}, {2, 3, 1}, {0.5, 1, 2}});
        INDArray u = org.sparseft.numerics.Cholesky.upperFactorOfInverse(h);
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < i; j++) {
                assertEquals(0.0, u.getDouble(i, j), 0.0, "below the diagonal");
            }
        }
        INDArray identity = u.transpose().mmul(u).mmul(h);
        assertTrue(identity.equalsWithEps(Nd4j.eye(3).castTo(DataType.DOUBLE), 1e-12), identity.toString());
    }

    @Test
    void uncorrelatedInputsNeedNoUpdate() {
        // with a diagonal Hessian U is diagonal, so no column corrects another: the result is W ⊙ mask
        INDArray w = Nd4j.createFromArray(new float[][] {{1, -4, 2, 3}, {-2, -1, 5, 0.5f}});
        FeatureStats stats = withHessian(new double[][] {{1, 0, 0, 0}, {0, 2, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 4}});
        SparseGPT.Result r = SparseGPT.prune(w, stats, new SparsityPattern.NOutOfM(2, 4), SparseGPT.Options.DEFAULTS);
        // saliency w²/[H⁻¹]_jj ∝ w²·H_jj (the damping is uniform): rows {1, 32, 4, 36} and {4, 2, 25, 1}
        assertArrayEquals(new float[][] {{0, -4, 0, 3}, {-2, 0, 5, 0}}, r.weight().toFloatMatrix());
        assertEquals(0, Float.floatToRawIntBits(r.weight().getFloat(1, 1)), "pruned entries are +0, not -0");
    }

    @Test
    void nOutOfMIsExactAndBlockSizeOnlyChangesRounding() {
        int out = 48;
        int in = 64;
        FeatureStats stats = correlated(in, 7);
        INDArray w = Nd4j.randn(DataType.FLOAT, out, in);
        SparseGPT.Result blocked = SparseGPT.prune(w, stats, new SparsityPattern.NOutOfM(2, 4),
                new SparseGPT.Options(0.01, 16));
        SparseGPT.Result whole = SparseGPT.prune(w, stats, new SparsityPattern.NOutOfM(2, 4),
                new SparseGPT.Options(0.01, 64));
        INDArray groups = blocked.keep().reshape('c', out * in / 4, 4).sum(1);
        assertEquals(out * in / 4, groups.eq(2.0).castTo(DataType.INT).sumNumber().intValue(), "2 kept per group");
        assertEquals(blocked.keep(), whole.keep());
        assertTrue(blocked.weight().equalsWithEps(whole.weight(), 1e-5), "lazy block updates equal eager ones");
        assertEquals(0.0, blocked.weight().mul(blocked.keep().rsub(1)).norm1Number().doubleValue(), 0.0);
    }

    @Test
    void reconstructsTheLayerBetterThanWandaAtTheSameSparsity() {
        int out = 64;
        int in = 96;
        FeatureStats stats = correlated(in, 11);
        INDArray w = Nd4j.randn(DataType.FLOAT, out, in);
        for (SparsityPattern p : new SparsityPattern[] {new SparsityPattern.Unstructured(0.5),
                new SparsityPattern.NOutOfM(2, 4)}) {
            SparseGPT.Result s = SparseGPT.prune(w, stats, p, new SparseGPT.Options(0.01, 32));
            INDArray wanda = w.mul(MaskCriterion.WANDA.select(MaskCriterion.WANDA.scores(w, stats), p));
            double sparseGpt = SparseGPT.reconstructionError(w, s.weight(), stats);
            double wandaError = SparseGPT.reconstructionError(w, wanda, stats);
            assertTrue(sparseGpt < 0.8 * wandaError, p.structure() + ": SparseGPT " + sparseGpt + " vs Wanda "
                    + wandaError);
        }
    }

    @Test
    void unstructuredPrunesTheReferencesCountPerColumnBlock() {
        int out = 10;
        int in = 40;
        FeatureStats stats = correlated(in, 3);
        INDArray w = Nd4j.randn(DataType.FLOAT, out, in);
        SparseGPT.Result r = SparseGPT.prune(w, stats, new SparsityPattern.Unstructured(0.6),
                new SparseGPT.Options(0.01, 16));
        // blocks of 16, 16 and 8 columns: ⌊numel·0.6⌋ + 1 pruned in each (continuous values, so no ties)
        int[] widths = {16, 16, 8};
        int from = 0;
        for (int width : widths) {
            INDArray block = r.keep().get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                    org.nd4j.linalg.indexing.NDArrayIndex.interval(from, from + width));
            assertEquals((int) Math.floor(out * width * 0.6) + 1, out * width - block.sumNumber().intValue(),
                    "block at column " + from);
            from += width;
        }
        SparseGPT.Result none = SparseGPT.prune(w, stats, new SparsityPattern.Unstructured(0), SparseGPT.Options.DEFAULTS);
        assertEquals(w, none.weight());
    }

    @Test
    void deadInputsArePrunedAndOptionsAreChecked() {
        FeatureStats stats = withHessian(new double[][] {{2, 0, 1, 0}, {0, 0, 0, 0}, {1, 0, 2, 0}, {0, 0, 0, 1}});
        SparseGPT.Result r = SparseGPT.prune(Nd4j.createFromArray(new float[][] {{1, 9, 1, 1}}), stats,
                new SparsityPattern.NOutOfM(2, 4), SparseGPT.Options.DEFAULTS);
        assertEquals(0f, r.weight().getFloat(0, 1), "an input never seen non-zero is dead, whatever its weight");
        assertThrows(BadInputException.class, () -> new SparseGPT.Options(0, 128));
        org.sparseft.InvalidSettingException block = assertThrows(org.sparseft.InvalidSettingException.class,
                () -> SparseGPT.prune(Nd4j.ones(DataType.FLOAT, 1, 8), correlated(8, 1),
                        new SparsityPattern.NOutOfM(2, 4), new SparseGPT.Options(0.01, 6)));
        assertEquals("--sparsegpt-blocksize 6: expected a multiple of M = 4 for --pattern 2:4",
                block.render(k -> "--" + k));
        SparseGPT.checkBlockSize(6, new SparsityPattern.Unstructured(0.5)); // unstructured blocks are any size
    }

    @Test
    void statisticsThatCannotBeFactoredStopWithARuntimeFailure() {
        INDArray w = Nd4j.ones(DataType.FLOAT, 1, 2);
        SparsityPattern p = new SparsityPattern.NOutOfM(1, 2);
        org.sparseft.RuntimeFailure nan = assertThrows(org.sparseft.RuntimeFailure.class, () -> SparseGPT.prune(w,
                withHessian(new double[][] {{Double.NaN, 0}, {0, 1}}), p, SparseGPT.Options.DEFAULTS));
        assertTrue(nan.getMessage().contains("not finite"), nan.getMessage());
        // not positive definite even after damping (no calibration data gives this; a corrupted sum could)
        org.sparseft.RuntimeFailure indefinite = assertThrows(org.sparseft.RuntimeFailure.class,
                () -> SparseGPT.prune(w, withHessian(new double[][] {{1, 5}, {5, 1}}), p, SparseGPT.Options.DEFAULTS));
        // the library names the setting; the command line renders it as its flag
        assertTrue(indefinite.getMessage().endsWith("raise sparsegpt-percdamp"), indefinite.getMessage());
        assertTrue(indefinite.render(k -> "--" + k).endsWith("raise --sparsegpt-percdamp"), indefinite.getMessage());
    }

    @Test
    void aGivenMaskIsKeptAndItsErrorMovesOntoTheKeptWeights() {
        // SparseGPT would prune w1 of {3, 1} (the lower saliency); given the mask that prunes w0 instead, the sweep
        // re-solves for w1 with w0 gone: w1 + w0·H01/H11, H11 = 3 + 0.035 (1% of the mean diagonal)
        FeatureStats stats = withHessian(new double[][] {{4, 2}, {2, 3}});
        INDArray w = Nd4j.createFromArray(new float[][] {{3, 1}});
        INDArray keep = Nd4j.createFromArray(new float[][] {{0, 1}});
        SparseGPT.Result r = SparseGPT.reconstruct(w, SparseGPT.factor(stats, SparseGPT.Options.DEFAULTS), keep,
                SparseGPT.Options.DEFAULTS);
        assertArrayEquals(new float[] {0, (float) (1 + 3 * 2 / 3.035)}, r.weight().toFloatVector(), 1e-6f);
        assertArrayEquals(keep.toFloatVector(), r.keep().toFloatVector(), 0f);
    }

    @Test
    void reconstructionKeepsWandasMasksAndLowersTheLayerError() {
        int out = 32;
        int in = 96;
        FeatureStats stats = correlated(in, 11);
        Nd4j.getRandom().setSeed(12);
        INDArray w = Nd4j.randn(DataType.FLOAT, out, in);
        SparseGPT.Factor factor = SparseGPT.factor(stats, new SparseGPT.Options(0.01, 32));
        for (SparsityPattern p : java.util.List.of(new SparsityPattern.Unstructured(0.5),
                new SparsityPattern.Unstructured(0.7), new SparsityPattern.NOutOfM(2, 4))) {
            INDArray keep = MaskCriterion.WANDA.select(MaskCriterion.WANDA.scores(w, stats), p);
            SparseGPT.Result r = SparseGPT.reconstruct(w, factor, keep, new SparseGPT.Options(0.01, 32));
            assertEquals(keep, r.keep(), "the mask is the one given, " + p.structure());
            assertEquals(0.0, r.weight().mul(keep.rsub(1)).amaxNumber().doubleValue(), 0.0, "pruned stay zero");
            double masked = SparseGPT.reconstructionError(w, w.mul(keep), stats);
            double updated = SparseGPT.reconstructionError(w, r.weight(), stats);
            assertTrue(updated < 0.95 * masked, p.structure() + " " + p.ratio() + ": error " + updated
                    + " against " + masked + " with the weights as they were");
        }
    }
}
