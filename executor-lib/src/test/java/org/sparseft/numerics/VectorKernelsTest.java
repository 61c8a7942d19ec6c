package org.sparseft.numerics;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VectorKernelsTest {
    @Test
    void expIsWithinTwoUlpsOfMathExpAndTheLanesEqualTheScalarForm() {
        float[] x = new float[8];
        double worst = 0;
        for (int i = 0; i <= 1_750_000; i++) {
            float v = -87f + i * 1e-4f;
            x[i % 8] = v;
            float e = VectorKernels.exp(v);
            double want = Math.exp(v);
            worst = Math.max(worst, Math.abs(e - want) / Math.ulp((float) want));
            if (i % 8 == 7) {
                float[] lanes = VectorKernels.exp(FloatVector.fromArray(FloatVector.SPECIES_256, x, 0)).toArray();
                for (int l = 0; l < 8; l++) {
                    assertEquals(Float.floatToRawIntBits(VectorKernels.exp(x[l])), Float.floatToRawIntBits(lanes[l]),
                            "lane " + l + " at " + x[l]);
                }
            }
        }
        assertTrue(worst <= 2, "worst error " + worst + " ulp");
        assertEquals(0f, VectorKernels.exp(-1e30f) * 1e-10f, 1e-45f); // clamped, not NaN or negative
        assertTrue(Float.isFinite(VectorKernels.exp(1e30f)));
        assertEquals(1f, VectorKernels.exp(0f));
    }
}
