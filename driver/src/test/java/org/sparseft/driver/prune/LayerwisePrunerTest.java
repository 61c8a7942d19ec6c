package org.sparseft.driver.prune;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.sparsity.DSnoT;
import org.sparseft.sparsity.FeatureStats;
import org.sparseft.sparsity.MaskCriterion;
import org.sparseft.sparsity.SparseGPT;
import org.sparseft.sparsity.SparsityPattern;
import org.sparseft.sparsity.SparsityPlan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LayerwisePrunerTest {
    @Test
    void dsnotsMagnitudeStartIsChosenPerRowAsInTheReference() {
        // every weight of row 1 is larger than every weight of row 0: a whole-matrix ranking would empty row 0
        INDArray w = Nd4j.createFromArray(new float[][] {{-0.1f, 0.4f, -0.2f, 0.3f}, {-1, 4, -2, 3}});
        FeatureStats stats = new FeatureStats(1, 4, new double[] {1, 1, 1, 1}, new double[] {1, 1, 1, 1},
                new double[] {1, 1, 1, 1});
        LayerwisePruner.Options o = new LayerwisePruner.Options(LayerwisePruner.Method.DSNOT,
                SparsityPlan.uniform(new SparsityPattern.Unstructured(0.5)), MaskCriterion.MAGNITUDE,
                DSnoT.Options.DEFAULT, DSnoT.SkipLayers.MLP, SparseGPT.Options.DEFAULTS, LayerwisePruner.WeightUpdate.NONE,
                null, BlockRecovery.Options.NONE, null, 8);
        // an MLP linear: the reference's default leaves it at DSnoT's starting mask
        INDArray keep = LayerwisePruner.choose("model.layers.0.mlp.up_proj.weight", w, stats, o).keep();
        assertArrayEquals(new float[][] {{0, 1, 0, 1}, {0, 1, 0, 1}}, keep.castTo(DataType.FLOAT).toFloatMatrix());
    }

    @Test
    void keepMasksReadAsFloatsAreArraysOfTheirOwnThatCanBeFreed() {
        INDArray keep = PrunedBlocks.keepAsFloats(new byte[] {1, 0, 0, 1, 1, 1}, new long[] {2, 3});
        assertArrayEquals(new float[][] {{1, 0, 0}, {1, 1, 1}}, keep.toFloatMatrix());
        assertTrue(keep.closeable(), "a view would stay allocated until a garbage collection");
    }
}
