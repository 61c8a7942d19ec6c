package org.sparseft.numerics;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.function.BiConsumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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

    private static ByteBuffer random(Random r, int n) {
        ByteBuffer b = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            b.putFloat(i * 4, (float) r.nextGaussian());
        }
        return b;
    }

    private static ByteBuffer copy(ByteBuffer b) {
        ByteBuffer c = ByteBuffer.allocateDirect(b.capacity()).order(ByteOrder.LITTLE_ENDIAN);
        c.put(b.duplicate().clear());
        return c.clear();
    }

    private static ByteBuffer zeros(int n) {
        return ByteBuffer.allocateDirect(n * 4).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Runs {@code kernel} over [0, n) once whole and once in uneven parts (boundaries off the vector width), each on
     * fresh output buffers, and asserts the outputs are equal byte for byte.
     */
    private static void partsEqualWhole(String name, long n, ByteBuffer[] outputs,
                                        BiConsumer<ByteBuffer[], long[]> kernel) {
        ByteBuffer[] whole = new ByteBuffer[outputs.length];
        ByteBuffer[] parted = new ByteBuffer[outputs.length];
        for (int i = 0; i < outputs.length; i++) {
            whole[i] = copy(outputs[i]);
            parted[i] = copy(outputs[i]);
        }
        kernel.accept(whole, new long[] {0, n});
        long[] cuts = {0, 1, 3, n / 2 + 5, n - 2, n};
        for (int c = 0; c + 1 < cuts.length; c++) {
            kernel.accept(parted, new long[] {cuts[c], cuts[c + 1]});
        }
        for (int i = 0; i < outputs.length; i++) {
            assertEquals(whole[i], parted[i], name + ": output " + i);
        }
    }

    @Test
    void kernelsGiveTheSameBitsWhateverTheRowsOrElementsAreSplitInto() {
        Random r = new Random(7);
        int rows = 23;
        int d = 37; // not a multiple of the vector width: every row has a scalar tail
        int n = rows * d;
        ByteBuffer x = random(r, n);
        ByteBuffer y = random(r, n);
        ByteBuffer dy = random(r, n);
        ByteBuffer gamma = random(r, d);
        ByteBuffer beta = random(r, d);
        partsEqualWhole("rmsNorm", rows, new ByteBuffer[] {zeros(n), zeros(n), zeros(rows)},
                (o, p) -> VectorKernels.rmsNorm(x, gamma, p[0], p[1], d, 1e-5f, o[0], o[1], o[2]));
        partsEqualWhole("layerNorm", rows, new ByteBuffer[] {zeros(n), zeros(n), zeros(rows)},
                (o, p) -> VectorKernels.layerNorm(x, gamma, beta, p[0], p[1], d, 1e-5f, o[0], o[1], o[2]));
        ByteBuffer rstd = random(r, rows);
        partsEqualWhole("normBackward", rows, new ByteBuffer[] {zeros(n)},
                (o, p) -> VectorKernels.normBackward(true, dy, gamma, x, rstd, p[0], p[1], d, o[0]));
        partsEqualWhole("swiglu", n, new ByteBuffer[] {zeros(n)},
                (o, p) -> VectorKernels.swiglu(x, y, p[0], p[1], o[0]));
        partsEqualWhole("swigluBackward", n, new ByteBuffer[] {zeros(n), zeros(n)},
                (o, p) -> VectorKernels.swigluBackward(x, y, dy, p[0], p[1], o[0], o[1]));
        partsEqualWhole("gelu", n, new ByteBuffer[] {zeros(n)}, (o, p) -> VectorKernels.gelu(x, p[0], p[1], o[0]));
        partsEqualWhole("geluBackward", n, new ByteBuffer[] {zeros(n)},
                (o, p) -> VectorKernels.geluBackward(x, dy, p[0], p[1], o[0]));
        int seqLen = 23;
        int headDim = 36; // half 18: a vector and a tail
        int bh = 3;
        ByteBuffer q = random(r, bh * seqLen * headDim);
        ByteBuffer cos = random(r, seqLen * headDim / 2);
        ByteBuffer sin = random(r, seqLen * headDim / 2);
        partsEqualWhole("rope", (long) bh * seqLen, new ByteBuffer[] {zeros(bh * seqLen * headDim)},
                (o, p) -> VectorKernels.rope(q, cos, sin, p[0], p[1], seqLen, headDim, false, o[0]));
        ByteBuffer scores = random(r, bh * seqLen * seqLen);
        partsEqualWhole("causalSoftmax", (long) bh * seqLen, new ByteBuffer[] {scores},
                (o, p) -> VectorKernels.causalSoftmax(o[0], p[0], p[1], seqLen, 5, 0.3f));
        ByteBuffer probs = random(r, bh * seqLen * seqLen);
        partsEqualWhole("softmaxBackward", (long) bh * seqLen, new ByteBuffer[] {random(r, bh * seqLen * seqLen)},
                (o, p) -> VectorKernels.softmaxBackward(o[0], probs, p[0], p[1], seqLen, 0.3f));
        int[] targets = new int[rows];
        for (int i = 0; i < rows; i++) {
            targets[i] = i % 5 == 4 ? -1 : r.nextInt(d);
        }
        double[][] nll = {new double[rows], new double[rows]};
        int[] call = {0};
        partsEqualWhole("crossEntropy", rows, new ByteBuffer[] {zeros(n)}, (o, p) -> VectorKernels.crossEntropy(
                x, (int) p[0], (int) p[1], d, targets, nll[Math.min(1, call[0]++)], o[0], 0.5f));
        assertArrayEquals(nll[0], nll[1]);
    }

    @Test
    void fusedKernelsSplitOverThreadsGiveTheWholeLoopsBits() {
        // Large enough that Fused splits them over the kernel threads (when this machine has more than one core).
        Random r = new Random(11);
        int rows = 700;
        int d = 300;
        INDArray x = Nd4j.randn(r.nextLong(), new long[] {rows, d});
        INDArray gamma = Nd4j.randn(r.nextLong(), new long[] {d});
        INDArray dy = Nd4j.randn(r.nextLong(), new long[] {rows, d});
        INDArray[] norm = Fused.rmsNorm(x, gamma, 1e-5);
        ByteBuffer y = zeros(rows * d);
        ByteBuffer xhat = zeros(rows * d);
        ByteBuffer rstd = zeros(rows);
        VectorKernels.rmsNorm(x.data().asNio(), gamma.data().asNio(), 0, rows, d, 1e-5f, y, xhat, rstd);
        assertEquals(y, norm[0].data().asNio());
        assertEquals(xhat, norm[1].data().asNio());
        assertEquals(rstd, norm[2].data().asNio());

        INDArray dGamma = Nd4j.zeros(d);
        INDArray dx = Fused.normBackward(false, dy, gamma, norm[1], norm[2], dGamma, null);
        ByteBuffer dxWhole = zeros(rows * d);
        float[] dGammaWhole = new float[d];
        VectorKernels.normBackward(false, dy.data().asNio(), gamma.data().asNio(), xhat, rstd, 0, rows, d, dxWhole);
        VectorKernels.normParameterGradients(dy.data().asNio(), xhat, rows, d, dGammaWhole, null);
        assertEquals(dxWhole, dx.data().asNio());
        assertArrayEquals(dGammaWhole, dGamma.toFloatVector());

        INDArray h = Fused.swiglu(x, dy);
        ByteBuffer hWhole = zeros(rows * d);
        VectorKernels.swiglu(x.data().asNio(), dy.data().asNio(), 0, (long) rows * d, hWhole);
        assertEquals(hWhole, h.data().asNio());
    }
}
