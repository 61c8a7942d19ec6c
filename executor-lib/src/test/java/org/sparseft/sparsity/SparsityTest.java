package org.sparseft.sparsity;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.BadInputException;
import org.sparseft.InvalidSettingException;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SparsityTest {
    private static INDArray m(float[][] v) {
        return Nd4j.createFromArray(v);
    }

    private static float[][] rows(INDArray a) {
        return a.castTo(DataType.FLOAT).toFloatMatrix();
    }

    @Test
    void lowestScoresArePrunedAndTiesGoToTheLowerIndexFirst() {
        INDArray keep = MaskSelection.perRow(m(new float[][] {{3, 1, 1, 2, 1}, {5, 4, 3, 2, 1}}), 2);
        assertArrayEquals(new float[][] {{1, 0, 0, 1, 1}, {1, 1, 1, 0, 0}}, rows(keep));
        INDArray groups = MaskSelection.perGroup(m(new float[][] {{4, 3, 2, 1, 1, 1, 1, 1}}), 2, 4);
        assertArrayEquals(new float[][] {{1, 1, 0, 0, 0, 0, 1, 1}}, rows(groups));
        assertArrayEquals(new float[][] {{1, 0}, {0, 1}}, rows(MaskSelection.whole(m(new float[][] {{2, 1}, {1, 3}}), 2)));
        assertArrayEquals(new float[][] {{1, 0}, {1, 1}}, rows(MaskSelection.whole(m(new float[][] {{2, 1}, {1, 3}}), 1)));
        assertArrayEquals(new float[][] {{1, 1}}, rows(MaskSelection.perRow(m(new float[][] {{1, 1}}), 0)));
    }

    @Test
    void exactSparsityPerRowPerGroupAndPerMatrixOnRandomScores() {
        INDArray scores = Nd4j.rand(DataType.FLOAT, 64, 96);
        INDArray perRow = MaskSelection.perRow(scores, 48);
        for (int i = 0; i < 64; i++) {
            assertEquals(48.0, perRow.getRow(i).sumNumber().doubleValue(), 0.0, "row " + i);
        }
        INDArray twoFour = MaskSelection.perGroup(scores, 2, 4);
        INDArray groupSums = twoFour.reshape('c', 64 * 24, 4).sum(1);
        assertEquals(64 * 24, groupSums.eq(2.0).castTo(DataType.INT).sumNumber().intValue(), "2 kept in every group");
        assertEquals(64 * 96 - 4000, MaskSelection.whole(scores, 4000).sumNumber().intValue());
        // the whole-matrix selection equals ranking the matrix as one row, ties included
        INDArray coarse = Nd4j.rand(DataType.FLOAT, 64, 96).muli(5).castTo(DataType.INT).castTo(DataType.FLOAT);
        for (int k : new int[] {0, 1, 777, 3072, 64 * 96}) {
            assertEquals(MaskSelection.perRow(coarse.dup('c').reshape('c', 1, 64 * 96), k).reshape('c', 64, 96),
                    MaskSelection.whole(coarse, k), "k = " + k);
        }
        // the pairwise-rank path for small groups agrees with sorting each group, ties included
        INDArray tied = Nd4j.rand(DataType.FLOAT, 64, 96).muli(4).castTo(DataType.INT).castTo(DataType.FLOAT);
        for (int[] nm : new int[][] {{2, 4}, {4, 8}, {1, 4}}) {
            assertEquals(MaskSelection.perRow(tied.dup('c').reshape('c', 64 * 96 / nm[1], nm[1]), nm[0])
                    .reshape('c', 64, 96), MaskSelection.perGroup(tied, nm[0], nm[1]), nm[0] + ":" + nm[1]);
        }
        // the kept entries of a row are its highest scores
        float[] row = scores.getRow(0).toFloatVector();
        float[] kept = perRow.getRow(0).toFloatVector();
        float minKept = Float.MAX_VALUE;
        float maxPruned = -Float.MAX_VALUE;
        for (int j = 0; j < row.length; j++) {
            if (kept[j] == 1) {
                minKept = Math.min(minKept, row[j]);
            } else {
                maxPruned = Math.max(maxPruned, row[j]);
            }
        }
        assertTrue(maxPruned <= minKept);
    }

    /** A stable sort of each segment's indices by score, the first k pruned: the definition the selection follows. */
    private static float[] bySorting(float[] s, int segment, int k) {
        float[] keep = new float[s.length];
        java.util.Arrays.fill(keep, 1f);
        for (int from = 0; from < s.length; from += segment) {
            final int f = from;
            Integer[] order = new Integer[segment];
            for (int i = 0; i < segment; i++) {
                order[i] = i;
            }
            java.util.Arrays.sort(order, (a, b) -> Float.compare(s[f + a], s[f + b]) != 0
                    ? Float.compare(s[f + a], s[f + b]) : Integer.compare(a, b));
            for (int i = 0; i < k; i++) {
                keep[f + order[i]] = 0f;
            }
        }
        return keep;
    }

    @Test
    void partialSelectionPrunesWhatAStableSortWouldOnScoresFullOfTies() {
        java.util.Random r = new java.util.Random(11);
        for (int trial = 0; trial < 20; trial++) {
            int rows = 1 + r.nextInt(40);
            int cols = 32 * (1 + r.nextInt(8));
            int distinct = trial % 2 == 0 ? 3 : 1000; // many ties, or few
            float[] s = new float[rows * cols];
            for (int i = 0; i < s.length; i++) {
                s[i] = r.nextInt(distinct) - distinct / 2;
            }
            INDArray scores = Nd4j.create(s, new long[] {rows, cols}, 'c');
            int k = r.nextInt(cols + 1);
            assertArrayEquals(bySorting(s, cols, k), MaskSelection.perRow(scores, k).data().asFloat(), "per row");
            for (int[] nm : new int[][] {{2, 4}, {4, 8}, {1, 4}, {16, 32}}) { // 32: beyond the pairwise ranking
                assertArrayEquals(bySorting(s, nm[1], nm[0]), MaskSelection.perGroup(scores, nm[0], nm[1]).data()
                        .asFloat(), nm[0] + ":" + nm[1]);
            }
            long kAll = r.nextInt(s.length + 1);
            assertArrayEquals(bySorting(s, s.length, (int) kAll), MaskSelection.whole(scores, kAll).data().asFloat(),
                    "whole matrix");
        }
    }

    /**
     * Choosing from the weights (scores made a row at a time inside the selection) gives the mask of selecting from
     * the full score matrix, bit for bit: Wanda and magnitude, unstructured and N:M, on weights with many ties.
     */
    @Test
    void choosingFromWeightsGivesTheMaskOfTheFullScoreMatrix() {
        java.util.Random r = new java.util.Random(5);
        for (int trial = 0; trial < 12; trial++) {
            int rows = 1 + r.nextInt(30);
            int cols = 32 * (1 + r.nextInt(6));
            float[] w = new float[rows * cols];
            for (int i = 0; i < w.length; i++) {
                w[i] = trial % 3 == 0 ? (r.nextInt(7) - 3) * 0.5f : (float) r.nextGaussian();
            }
            double[] sq = new double[cols];
            for (int j = 0; j < cols; j++) {
                sq[j] = trial % 3 == 0 ? 4 : 10 * r.nextDouble();
            }
            FeatureStats stats = new FeatureStats(5, 40, new double[cols], sq, new double[cols]);
            INDArray weight = Nd4j.create(w, new long[] {rows, cols}, 'c');
            for (SparsityPattern p : List.of(new SparsityPattern.Unstructured(0.5), new SparsityPattern.Unstructured(
                    0.7), new SparsityPattern.NOutOfM(2, 4), new SparsityPattern.NOutOfM(16, 32))) {
                for (MaskCriterion c : MaskCriterion.values()) {
                    assertArrayEquals(c.select(c.scores(weight, stats), p).data().asFloat(),
                            c.choose(weight, stats, p).data().asFloat(), c + " " + p.label());
                }
            }
        }
    }

    @Test
    void wandaScoresAHandComputedFourBySixExample() {
        INDArray w = m(new float[][] {
                {1, -2, 4, 0.5f, -3, 0.25f},
                {-1, 1, -1, 1, -1, 1},
                {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f},
                {2, 2, 2, 2, 2, 2}});
        // Q_j / N_seq = [4, 1, 0.25, 9, 1, 16], so ||X_j|| / sqrt(N_seq) = [2, 1, 0.5, 3, 1, 4]
        FeatureStats stats = new FeatureStats(2, 8, new double[6], new double[] {8, 2, 0.5, 18, 2, 32}, new double[6]);
        INDArray scores = MaskCriterion.WANDA.scores(w, stats);
        assertArrayEquals(new float[] {2, 2, 2, 1.5f, 3, 1}, scores.getRow(0).toFloatVector(), 1e-6f);
        assertArrayEquals(new float[] {0.2f, 0.2f, 0.15f, 1.2f, 0.5f, 2.4f}, scores.getRow(2).toFloatVector(), 1e-6f);
        INDArray keep = MaskCriterion.WANDA.select(scores, new SparsityPattern.Unstructured(0.5));
        assertArrayEquals(new float[][] {
                {0, 1, 1, 0, 1, 0},
                {1, 0, 0, 1, 0, 1},
                {0, 0, 0, 1, 1, 1},
                {1, 0, 0, 1, 0, 1}}, rows(keep));
        // magnitude compares the whole matrix: the 12 smallest |W| of 24 go, wherever they are
        INDArray mag = MaskCriterion.MAGNITUDE.select(MaskCriterion.MAGNITUDE.scores(w, null),
                new SparsityPattern.Unstructured(0.5));
        assertEquals(12, mag.sumNumber().intValue());
        assertArrayEquals(new float[] {0, 0, 0, 0, 0, 0}, mag.getRow(2).toFloatVector(), "row 2 is all small");
        assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1}, mag.getRow(3).toFloatVector());
    }

    @Test
    void featureStatsMatchHandValuesAndAddUp() {
        INDArray x = m(new float[][] {{1, 2}, {3, 4}, {5, 6}, {7, 8}}); // two sequences of two tokens
        FeatureStats both = FeatureStats.of(x, 2, 2);
        assertArrayEquals(new double[] {16, 20}, both.sum());
        assertArrayEquals(new double[] {84, 120}, both.sumSquares());
        assertArrayEquals(new double[] {4, 4}, both.withinSequence(), 1e-12, "(1-2)² + (3-2)² + (5-6)² + (7-6)²");
        FeatureStats split = FeatureStats.of(x.getRows(0, 1), 1, 2).plus(FeatureStats.of(x.getRows(2, 3), 1, 2));
        assertArrayEquals(both.sum(), split.sum());
        assertArrayEquals(both.sumSquares(), split.sumSquares());
        assertArrayEquals(both.withinSequence(), split.withinSequence(), 1e-12);
        assertEquals(2, split.sequences());
        assertEquals(4, split.tokens());
        assertArrayEquals(new double[] {1, 1}, both.variance().toDoubleVector(), 1e-12);
    }

    @Test
    void kthLowestOfDoublesIsTheSortedValueAtThatRankTiesIncluded() {
        java.util.Random r = new java.util.Random(5);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + r.nextInt(trial < 100 ? 40 : 5000);
            double[] a = new double[n];
            for (int i = 0; i < n; i++) {
                a[i] = trial % 2 == 0 ? r.nextInt(7) : r.nextGaussian(); // many ties, or none
            }
            double[] sorted = a.clone();
            java.util.Arrays.sort(sorted);
            int k = r.nextInt(n);
            assertEquals(sorted[k], MaskSelection.kthLowest(a.clone(), k), 0.0, "n " + n + ", rank " + k);
        }
    }

    @Test
    void accumulatedStatisticsMatchPlainSumsAndDoNotDependOnTheCallSplit() {
        int seqs = 3;
        int seqLen = 5;
        int d = 37; // vector lanes and a tail
        java.util.Random r = new java.util.Random(11);
        float[] v = new float[seqs * seqLen * d];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextGaussian() + 0.5);
        }
        INDArray x = org.nd4j.linalg.factory.Nd4j.create(v, new long[] {seqs * seqLen, d}, 'c');
        FeatureStats whole = FeatureStats.of(x, seqs, seqLen, true);
        FeatureStats split;
        try (FeatureStats.Accumulator a = new FeatureStats.Accumulator(d, true)) {
            a.add(x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, seqLen), org.nd4j.linalg.indexing
                    .NDArrayIndex.all()), 1, seqLen);
            a.add(x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(seqLen, seqs * seqLen), org.nd4j.linalg
                    .indexing.NDArrayIndex.all()), 2, seqLen);
            split = a.finish();
        }
        assertArrayEquals(whole.sum(), split.sum(), 0.0, "sequence after sequence: the same bits");
        assertArrayEquals(whole.sumSquares(), split.sumSquares(), 0.0);
        assertArrayEquals(whole.withinSequence(), split.withinSequence(), 0.0);
        assertEquals(seqs, split.sequences());
        assertEquals(seqs * seqLen, split.tokens());
        FeatureStats arrayOps = FeatureStats.of(x.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE), seqs, seqLen,
                true); // float64 inputs: ND4J's reductions instead of the vector kernel
        assertArrayEquals(whole.sum(), arrayOps.sum(), 1e-12 * seqs * seqLen);
        assertArrayEquals(whole.withinSequence(), arrayOps.withinSequence(), 1e-9);
        assertArrayEquals(whole.gram(), arrayOps.gram(), 0.0);
        for (int j = 0; j < d; j++) { // plain float64 sums, one token at a time
            double s = 0;
            double q = 0;
            double within = 0;
            for (int seq = 0; seq < seqs; seq++) {
                double mean = 0;
                for (int t = 0; t < seqLen; t++) {
                    mean += v[(seq * seqLen + t) * d + j] / (double) seqLen;
                }
                for (int t = 0; t < seqLen; t++) {
                    double e = v[(seq * seqLen + t) * d + j];
                    s += e;
                    q += e * e;
                    within += (e - mean) * (e - mean);
                }
            }
            assertEquals(s, whole.sum()[j], 1e-12 * seqs * seqLen);
            assertEquals(q, whole.sumSquares()[j], 1e-12 * q);
            assertEquals(within, whole.withinSequence()[j], 1e-9 * q);
            for (int k = 0; k < d; k++) {
                double g = 0;
                for (int t = 0; t < seqs * seqLen; t++) {
                    g += (double) v[t * d + j] * v[t * d + k];
                }
                assertEquals(g, whole.gramAt(j, k), 1e-5 * (1 + Math.abs(g)), "G[" + j + "," + k + "]");
                assertEquals(g * 2 / seqs, whole.hessian().getDouble(j, k), 1e-5 * (1 + Math.abs(g)), "H = 2G/N");
            }
        }
    }

    /** d = W (sums per sequence 1) and var = 1, so growth scores equal d. */
    private static final FeatureStats UNIT = new FeatureStats(1, 4, new double[] {1, 1, 1, 1, 1, 1},
            new double[] {1, 1, 1, 1, 1, 1}, new double[] {4, 4, 4, 4, 4, 4});

    @Test
    void dsnotPruneAndGrowFollowsAHandTrace() {
        INDArray w = m(new float[][] {
                {2, -0.02f, 3, 1.0f, 0.02f, 0.03f},   // row A
                {-0.1f, -0.2f, 5, 1.0f, 0.8f, 0.6f}}); // row B
        INDArray keep0 = m(new float[][] {{1, 1, 1, 0, 0, 0}, {1, 1, 1, 0, 0, 0}});
        INDArray metric = org.nd4j.linalg.ops.transforms.Transforms.abs(w, true);
        SparsityPattern half = new SparsityPattern.Unstructured(0.5);
        // Row A: ε = 1.05 > τ: grow column 3 (d 1.0), prune column 1 (the only kept d < 0): ε = 0.03; then
        // |ε| <= 0.1 stops it (one swap, stopped by the threshold).
        // Row B: ε = 2.4: grow 3, prune 0 (smallest metric among d < 0): ε = 1.3; grow 4, prune 1: ε = 0.3; the
        // two-cycle limit stops it while |ε| is still above τ.
        DSnoT.Result two = DSnoT.refine(w, UNIT, keep0, metric, half, new DSnoT.Options(2, 0.1, 1, null));
        assertArrayEquals(new float[][] {{1, 0, 1, 1, 0, 0}, {0, 0, 1, 1, 1, 0}}, rows(two.keep()));
        assertEquals(3, two.swaps());
        assertEquals(2, two.cycles());
        DSnoT.Result one = DSnoT.refine(w, UNIT, keep0, metric, half, new DSnoT.Options(1, 0.1, 1, null));
        assertArrayEquals(new float[][] {{1, 0, 1, 1, 0, 0}, {0, 1, 1, 1, 0, 0}}, rows(one.keep()),
                "one cycle: row B made only its first swap");
        DSnoT.Result none = DSnoT.refine(w, UNIT, keep0, metric, half, new DSnoT.Options(50, 5.0, 1, null));
        assertEquals(0, none.swaps(), "no row's |ε| exceeds a threshold of 5");
        assertArrayEquals(rows(keep0), rows(none.keep()));
    }

    @Test
    void dsnotNOutOfMSwapsWithinTheGroupAndChecksTheSign() {
        INDArray w = m(new float[][] {{0.5f, -0.3f, 1.0f, 0.2f, 0, 0, 0, 0}});
        FeatureStats unit = new FeatureStats(1, 4, new double[] {1, 1, 1, 1, 1, 1, 1, 1},
                new double[] {1, 1, 1, 1, 1, 1, 1, 1}, new double[] {4, 4, 4, 4, 4, 4, 4, 4});
        INDArray keep0 = m(new float[][] {{1, 1, 0, 0, 1, 1, 0, 0}});
        INDArray metric = org.nd4j.linalg.ops.transforms.Transforms.abs(w, true);
        SparsityPattern twoFour = new SparsityPattern.NOutOfM(2, 4);
        // ε = 1.0 + 0.2 = 1.2; grow column 2 (d 1.0); prune the kept column of its group with the smallest metric,
        // column 1 (|-0.3|): ε' = 1.2 - 0.3 - 1.0 = -0.1 flips the sign, so with N:M's sign check nothing changes
        DSnoT.Result checked = DSnoT.refine(w, unit, keep0, metric, twoFour, DSnoT.Options.DEFAULT);
        assertEquals(0, checked.swaps());
        DSnoT.Result unchecked = DSnoT.refine(w, unit, keep0, metric, twoFour, new DSnoT.Options(1, 0.1, 1, false));
        assertEquals(1, unchecked.swaps());
        assertArrayEquals(new float[][] {{1, 0, 1, 0, 1, 1, 0, 0}}, rows(unchecked.keep()), "2 kept per group still");
    }

    @Test
    void dsnotShrinksTheMeanReconstructionErrorOfItsStartingMask() {
        // calibration inputs whose features have non-zero means (what DSnoT's error estimate is built on)
        Nd4j.getRandom().setSeed(3);
        INDArray means = Nd4j.randn(DataType.FLOAT, 1, 128).muli(0.5);
        INDArray x = Nd4j.randn(DataType.FLOAT, 8 * 64, 128).addiRowVector(means);
        INDArray w = Nd4j.randn(DataType.FLOAT, 32, 128).muli(0.1);
        FeatureStats stats = FeatureStats.of(x, 8, 64);
        SparsityPattern p = new SparsityPattern.Unstructured(0.5);
        INDArray metric = MaskCriterion.WANDA.scores(w, stats);
        INDArray wanda = MaskCriterion.WANDA.select(metric, p);
        DSnoT.Result d = DSnoT.refine(w, stats, wanda, metric, p, new DSnoT.Options(50, 0.1, 1, true));
        assertTrue(d.swaps() > 0);
        // per row: the mean over tokens of (dense - sparse) output
        double before = x.mmul(w.mul(wanda.rsub(1.0)).transpose()).mean(0).norm1Number().doubleValue();
        double after = x.mmul(w.mul(d.keep().rsub(1.0)).transpose()).mean(0).norm1Number().doubleValue();
        assertTrue(after < 0.5 * before, "mean error " + before + " -> " + after);
        assertArrayEquals(rows(wanda.sum(1).reshape(1, 32)), rows(d.keep().sum(1).reshape(1, 32)), "row sparsity kept");
    }

    @Test
    void patternsRefuseWhatCannotWork() {
        assertThrows(BadInputException.class, () -> new SparsityPattern.Unstructured(1.0));
        assertThrows(BadInputException.class, () -> new SparsityPattern.Unstructured(-0.1));
        assertThrows(BadInputException.class, () -> SparsityPattern.parse("4:4"));
        assertThrows(BadInputException.class, () -> SparsityPattern.parse("2-4"));
        BadInputException e = assertThrows(BadInputException.class,
                () -> SparsityPattern.parse("2:4").checkFits("model.layers.0.mlp.down_proj.weight", 6));
        assertTrue(e.getMessage().contains("down_proj") && e.getMessage().contains("not a multiple of 4"));
        assertEquals(2, SparsityPattern.parse("2:4").prunedPerRow(4));
        assertEquals(3, new SparsityPattern.Unstructured(0.5).prunedPerRow(7), "floor(in·ratio)");
    }

    private static String asFlags(InvalidSettingException e) {
        return e.render(k -> "--" + k);
    }

    @Test
    void oneParserReadsARatioOrNOutOfMAndNamesTheSetting() {
        assertEquals(new SparsityPattern.Unstructured(0.5), SparsityPattern.parse("0.5"));
        assertEquals(new SparsityPattern.NOutOfM(2, 4), SparsityPattern.parse("2:4"));
        assertEquals(new SparsityPattern.NOutOfM(2, 4), SparsityPattern.parseNOutOfM(" 2 : 4 "));
        assertEquals("--sparsity 1.5: expected a fraction in [0, 1)", asFlags(assertThrows(
                InvalidSettingException.class, () -> SparsityPattern.parse("1.5"))));
        assertEquals("--pattern 4:4: expected N:M with 1 <= N < M", asFlags(assertThrows(
                InvalidSettingException.class, () -> SparsityPattern.parse("4:4"))));
        assertEquals("--pattern half: expected a ratio in [0, 1) or N:M, e.g. 0.5 or 2:4", asFlags(assertThrows(
                InvalidSettingException.class, () -> SparsityPattern.parse("half"))));
        assertEquals("--pattern 0.5: expected N:M, e.g. 2:4", asFlags(assertThrows(
                InvalidSettingException.class, () -> SparsityPattern.parseNOutOfM("0.5"))), "strictly N:M");
        InvalidSettingException fits = assertThrows(InvalidSettingException.class,
                () -> SparsityPattern.parse("2:4").checkFits("w{x}", 6));
        assertEquals("--pattern 2:4: tensor 'w{x}' has 6 inputs per row, not a multiple of 4", asFlags(fits));
        assertEquals("pattern 2:4: tensor 'w{x}' has 6 inputs per row, not a multiple of 4", fits.getMessage());
    }

    @Test
    void aPatternKnowsItsGroupsAndSelectsItsMask() {
        assertEquals(OptionalInt.of(4), new SparsityPattern.NOutOfM(2, 4).groupSize());
        assertEquals(OptionalInt.empty(), new SparsityPattern.Unstructured(0.5).groupSize());
        assertEquals("2:4", new SparsityPattern.NOutOfM(2, 4).label());
        assertEquals("unstructured 0.5", new SparsityPattern.Unstructured(0.5).label());
        INDArray scores = m(new float[][] {{4, 3, 2, 1}, {40, 30, 20, 10}});
        float[][] perRow = {{1, 1, 0, 0}, {1, 1, 0, 0}};
        assertArrayEquals(perRow, rows(new SparsityPattern.Unstructured(0.5).select(scores, false)));
        assertArrayEquals(new float[][] {{0, 0, 0, 0}, {1, 1, 1, 1}},
                rows(new SparsityPattern.Unstructured(0.5).select(scores, true)));
        assertArrayEquals(new float[][] {{1, 0, 1, 0}, {1, 0, 1, 0}},
                rows(new SparsityPattern.NOutOfM(1, 2).select(scores, true)), "N:M is per group either way");
    }

    @Test
    void aPerLayerPlanPlacesItsRefusalsAtTheRule() {
        SparsityPattern half = new SparsityPattern.Unstructured(0.5);
        SparsityPlan plan = SparsityPlan.parse("plan.json",
                "{\"attn\": 0.4, \"mlp\": \"2:4\", \"up\": \"0.3\"}".getBytes(StandardCharsets.UTF_8), half);
        assertEquals(new SparsityPattern.Unstructured(0.4), plan.patternFor("h.0.attn.c_attn.weight"));
        assertEquals(new SparsityPattern.NOutOfM(2, 4), plan.patternFor("h.0.mlp.c_fc.weight"));
        assertEquals(new SparsityPattern.Unstructured(0.3), plan.patternFor("layers.0.up_proj.weight"));
        assertEquals(half, plan.patternFor("lm_head.weight"));
        assertEquals("--sparsity-per-layer plan.json, key \"mlp\": --sparsity 1.5: expected a fraction in [0, 1)",
                planError("{\"attn\": 0.4, \"mlp\": 1.5}"));
        assertEquals("--sparsity-per-layer plan.json, key \"h{2}\": --pattern 4:4: expected N:M with 1 <= N < M",
                planError("{\"h{2}\": \"4:4\"}"));
        assertEquals("--sparsity-per-layer plan.json, key \"mlp\": expected a ratio in [0, 1) or an \"N:M\" string,"
                + " got [0.5]", planError("{\"mlp\": [0.5]}"));
        assertEquals("--sparsity-per-layer plan.json: expected a JSON object of {\"name regex\": ratio or \"N:M\"}",
                planError("[0.5, 0.6]"));
        assertTrue(planError("{\"h.(0\": 0.4}").startsWith("--sparsity-per-layer plan.json, key \"h.(0\": not a"
                + " regular expression ("), planError("{\"h.(0\": 0.4}"));
    }

    private static String planError(String json) {
        return asFlags(assertThrows(InvalidSettingException.class, () -> SparsityPlan.parse("plan.json",
                json.getBytes(StandardCharsets.UTF_8), new SparsityPattern.Unstructured(0.5))));
    }

    @Test
    void dsnotSkipsTheLayersItIsToldTo() {
        assertEquals(DSnoT.SkipLayers.ATTN, DSnoT.SkipLayers.parse("attn"));
        assertEquals("mlp", DSnoT.SkipLayers.MLP.key());
        assertTrue(DSnoT.SkipLayers.MLP.skips("model.layers.0.mlp.up_proj.weight"));
        assertFalse(DSnoT.SkipLayers.MLP.skips("model.layers.0.self_attn.q_proj.weight"));
        assertTrue(DSnoT.SkipLayers.ATTN.skips("transformer.h.0.attn.c_attn.weight"));
        assertFalse(DSnoT.SkipLayers.NONE.skips("transformer.h.0.mlp.c_fc.weight"));
        assertEquals("--dsnot-skip-layer all: expected mlp, attn or none", asFlags(assertThrows(
                InvalidSettingException.class, () -> DSnoT.SkipLayers.parse("all"))));
    }
}
