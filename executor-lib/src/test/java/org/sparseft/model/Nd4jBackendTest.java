package org.sparseft.model;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The ND4J CPU backend loads its natives on this JVM and its GEMM gives hand-computed results. */
class Nd4jBackendTest {
    @Test
    void gemmIntoAPreallocatedBufferMatchesHandComputation() {
        INDArray a = Nd4j.createFromArray(new float[][] {{1, 2, 3}, {4, 5, 6}});       // [2, 3]
        INDArray b = Nd4j.createFromArray(new float[][] {{1, 0}, {0, 1}, {2, -1}});    // [3, 2]
        INDArray out = Nd4j.create(DataType.FLOAT, 2, 2);
        Nd4j.gemm(a, b, out, false, false, 1.0, 0.0);
        assertArrayEquals(new float[] {7, -1, 16, -1}, out.data().asFloat(), 0f);
        // transposes through gemm's flags, not copies: aᵀ·a is [3, 3]
        INDArray ata = Nd4j.create(DataType.FLOAT, 3, 3);
        Nd4j.gemm(a, a, ata, true, false, 1.0, 0.0);
        assertEquals(17f, ata.getFloat(0, 0));
        assertEquals(36f, ata.getFloat(1, 2), "2·3 + 5·6");
    }
}
