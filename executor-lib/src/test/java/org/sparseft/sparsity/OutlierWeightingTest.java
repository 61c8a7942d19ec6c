package org.sparseft.sparsity;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.InvalidSettingException;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OutlierWeightingTest {
    @Test
    void outliersAreCountedOverAllOfABlocksLinearsAgainstTheirCommonMean() {
        // 10 scores, mean (9 + 11) / 10 = 2: with M = 5 only the 11 is above 10; with M = 0.4 all above 0.8
        var a = Nd4j.createFromArray(new float[][] {{1, 1, 1}, {1, 1, 11}});
        var b = Nd4j.createFromArray(new float[][] {{1, 1}, {1, 1}});
        assertEquals(0.1, OutlierWeighting.outlierRatio(List.of(a, b), 5), 0);
        assertEquals(1.0, OutlierWeighting.outlierRatio(List.of(a, b), 0.4), 0);
        // the common mean, not each linear's: alone, b has mean 1 and no score above 5
        assertEquals(0.0, OutlierWeighting.outlierRatio(List.of(b), 5), 0);
        assertEquals(0.0, OutlierWeighting.outlierRatio(List.of(Nd4j.createFromArray(new float[][] {{10, 10}})), 1),
                0, "a score equal to the threshold is not above it");
    }

    @Test
    void sparsitiesFollowTheReferenceFormulaAndAverageToTheTarget() {
        // keep = (D - 0.01) / 0.04 * 0.16 = [0, 0.08, 0.04, 0.16], mean 0.07; S = 1 - (keep - 0.07 + 0.3)
        OutlierWeighting.Allocation a = OutlierWeighting.allocate(new double[] {0.01, 0.03, 0.02, 0.05}, 0.7,
                new OutlierWeighting.Options(5, 0.08));
        assertArrayEquals(new double[] {0.77, 0.69, 0.73, 0.61}, a.sparsities(), 1e-12);
        assertEquals(0.7, java.util.Arrays.stream(a.sparsities()).average().orElseThrow(), 1e-12);
        assertArrayEquals(new double[] {0.01, 0.03, 0.02, 0.05}, a.outlierRatios(), 0);
        // the spread is 2λ whatever the ratios' scale
        OutlierWeighting.Allocation scaled = OutlierWeighting.allocate(new double[] {1, 3, 2, 5}, 0.7,
                new OutlierWeighting.Options(5, 0.08));
        assertArrayEquals(a.sparsities(), scaled.sparsities(), 1e-12);
    }

    @Test
    void blocksAlikeAllGetTheTarget() {
        assertArrayEquals(new double[] {0.5, 0.5, 0.5},
                OutlierWeighting.allocate(new double[] {0.02, 0.02, 0.02}, 0.5, OutlierWeighting.Options.DEFAULTS)
                        .sparsities(), 0);
        assertArrayEquals(new double[] {0.6},
                OutlierWeighting.allocate(new double[] {0.3}, 0.6, OutlierWeighting.Options.DEFAULTS).sparsities(), 0);
    }

    @Test
    void lambdaMustKeepEveryBlockInsideZeroToOne() {
        InvalidSettingException e = assertThrows(InvalidSettingException.class,
                () -> new OutlierWeighting.Options(5, 0.3).checkFits(0.7));
        assertTrue(e.template().contains("{owl-lambda}"), e.template());
        assertThrows(InvalidSettingException.class, () -> new OutlierWeighting.Options(5, -0.01));
        assertThrows(InvalidSettingException.class, () -> new OutlierWeighting.Options(0, 0.08));
        new OutlierWeighting.Options(5, 0.29).checkFits(0.7);
        // λ below min(S, 1 - S) can still push one block past 0 when the others are alike: refused by name
        InvalidSettingException past = assertThrows(InvalidSettingException.class, () -> OutlierWeighting.allocate(
                new double[] {0, 0, 0, 1}, 0.2, new OutlierWeighting.Options(5, 0.15)));
        assertTrue(past.template().contains("block 3"), past.template());
    }
}
