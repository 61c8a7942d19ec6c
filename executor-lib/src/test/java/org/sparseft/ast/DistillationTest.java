package org.sparseft.ast;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.model.ops.CrossEntropy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DistillationTest {
    private static final int[] TARGETS = {2, 0, CrossEntropy.IGNORE};

    @Test
    void gradientMatchesFiniteDifferences() {
        Nd4j.getRandom().setSeed(3);
        INDArray student = Nd4j.randn(DataType.DOUBLE, 3, 5);
        INDArray teacher = Nd4j.randn(DataType.DOUBLE, 3, 5);
        Distillation d = new Distillation(2, 0.33, 0.67);
        INDArray analytic = d.compute(student, teacher, TARGETS).dLogits();
        double eps = 1e-6;
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 5; j++) {
                double v = student.getDouble(i, j);
                student.putScalar(i, j, v + eps);
                double up = d.compute(student, teacher, TARGETS).loss();
                student.putScalar(i, j, v - eps);
                double down = d.compute(student, teacher, TARGETS).loss();
                student.putScalar(i, j, v);
                assertEquals((up - down) / (2 * eps), analytic.getDouble(i, j), 1e-8, "row " + i + ", logit " + j);
            }
        }
    }

    @Test
    void handValuesAndLimits() {
        // one row, two logits: student [0, 0], teacher [ln 3, 0] at τ = 1: p_t = (3/4, 1/4), p_s = (1/2, 1/2),
        // KL = 3/4·ln(3/2) + 1/4·ln(1/2); the cross-entropy of target 0 is ln 2
        INDArray student = Nd4j.createFromArray(new double[][] {{0, 0}});
        INDArray teacher = Nd4j.createFromArray(new double[][] {{Math.log(3), 0}});
        Distillation.Result r = new Distillation(1, 0.5, 0.5).compute(student, teacher, new int[] {0});
        double kl = 0.75 * Math.log(1.5) + 0.25 * Math.log(0.5);
        assertEquals(kl, r.kl(), 1e-12);
        assertEquals(Math.log(2), r.crossEntropy(), 1e-12);
        assertEquals(0.5 * Math.log(2) + 0.5 * kl, r.loss(), 1e-12);
        // the student equal to the teacher: no KL, no KL gradient; with w_kl = 0 it is the cross-entropy alone
        INDArray z = Nd4j.randn(DataType.DOUBLE, 3, 5);
        assertEquals(0.0, new Distillation(2, 0.33, 0.67).compute(z, z.dup(), TARGETS).kl(), 1e-12);
        Distillation.Result taskOnly = new Distillation(2, 1, 0).compute(z, Nd4j.randn(DataType.DOUBLE, 3, 5), TARGETS);
        CrossEntropy.Result ce = CrossEntropy.compute(z, TARGETS, true);
        assertEquals(ce.loss(), taskOnly.loss(), 1e-12);
        assertTrue(ce.dLogits().equalsWithEps(taskOnly.dLogits(), 1e-12));
    }
}
