package org.sparseft.model.ops;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.numerics.Fused;
import org.sparseft.numerics.Workspaces;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fused float32 kernels against the ops' unfused forms, which run when the inputs are float64 and are checked
 * against finite differences in {@link OpsTest}: every op's forward and backward, with row widths that leave a tail
 * after the 8-wide vectors, views as inputs, and sliding-window attention.
 */
class FusedOpsTest {
    private static final double TOLERANCE = 2e-5;

    private static INDArray random(long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape);
    }

    /** Runs f on float32 copies (the fused kernels) and on the float64 inputs (unfused), and compares. */
    private static void same(String name, INDArray[] inputs, Function<INDArray[], INDArray[]> f) {
        assertTrue(Fused.enabled(), "tests run with --add-modules jdk.incubator.vector");
        INDArray[] f32 = new INDArray[inputs.length];
        INDArray[] f64 = new INDArray[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            f32[i] = inputs[i] == null ? null : inputs[i].castTo(DataType.FLOAT);
            f64[i] = inputs[i] == null ? null : inputs[i].dup();
        }
        INDArray[] fused = f.apply(f32);
        INDArray[] reference = f.apply(f64);
        for (int o = 0; o < reference.length; o++) {
            INDArray got = fused[o].castTo(DataType.DOUBLE);
            INDArray want = reference[o];
            assertEquals(DataType.FLOAT, fused[o].dataType(), name + " output " + o);
            double scale = Math.max(1.0, want.amaxNumber().doubleValue());
            double err = got.sub(want).amaxNumber().doubleValue() / scale;
            assertTrue(err < TOLERANCE, name + " output " + o + ": max error " + err + " relative to " + scale);
        }
    }

    @Test
    void aLinearsBiasGradientIsItsUnfusedFormAndEachColumnSummedInRowOrder() {
        for (int d : new int[] {37, 64}) {
            INDArray[] in = {random(5, 9, 20), random(6, d, 20), random(7, 9, d)};
            same("linear backward d=" + d, in, a -> {
                INDArray dW = Nd4j.zeros(a[1].dataType(), d, 20);
                INDArray dBias = Nd4j.ones(a[1].dataType(), d);
                INDArray dx = Linear.backward(a[0], a[1], a[2], dW, dBias);
                return new INDArray[] {dx, dW, dBias};
            });
            // the sums in row order, as a plain loop adds them: bits that do not depend on threads or partitions
            INDArray dy = random(8, 300, d).castTo(DataType.FLOAT);
            float[] want = new float[d];
            for (int r = 0; r < 300; r++) {
                for (int c = 0; c < d; c++) {
                    want[c] += dy.getFloat(r, c);
                }
            }
            INDArray got = Nd4j.zeros(DataType.FLOAT, 1, d);
            Fused.addColumnSums(dy.transpose().dup().transpose(), got); // a column-major view: copied to rows first
            assertArrayEquals(want, got.data().asFloat(), 0f, "d=" + d);
        }
    }

    @Test
    void normsMatchTheirUnfusedFormsForwardAndBackward() {
        for (int d : new int[] {37, 64}) {
            INDArray[] in = {random(1, 6, d), random(2, d).addi(1), random(3, d), random(4, 6, d)};
            same("rmsNorm d=" + d, in, a -> {
                Norms.Saved[] saved = new Norms.Saved[1];
                INDArray y = Norms.rmsNorm(a[0], a[1], 1e-6, saved);
                INDArray dGamma = Nd4j.ones(a[1].dataType(), d);
                INDArray dx = Norms.rmsNormBackward(a[3], a[1], saved[0], dGamma);
                return new INDArray[] {y, saved[0].normalized(), saved[0].inverseStd(), dx, dGamma};
            });
            same("layerNorm d=" + d, in, a -> {
                Norms.Saved[] saved = new Norms.Saved[1];
                INDArray y = Norms.layerNorm(a[0], a[1], a[2], 1e-5, saved);
                INDArray dGamma = Nd4j.zeros(a[1].dataType(), d);
                INDArray dBeta = Nd4j.ones(a[1].dataType(), d);
                INDArray dx = Norms.layerNormBackward(a[3], a[1], saved[0], dGamma, dBeta);
                return new INDArray[] {y, saved[0].normalized(), dx, dGamma, dBeta};
            });
        }
    }

    @Test
    void activationsMatchTheirUnfusedForms() {
        // gate values up to ±12 reach the flat ends of σ and tanh
        INDArray[] in = {random(5, 7, 45).muli(4), random(6, 7, 45), random(7, 7, 45)};
        same("swiglu", in, a -> {
            INDArray[] d = Activations.swigluBackward(a[0], a[1], a[2]);
            return new INDArray[] {Activations.swiglu(a[0], a[1]), d[0], d[1]};
        });
        same("gelu", in, a -> new INDArray[] {Activations.gelu(a[0]), Activations.geluBackward(a[0], a[2])});
    }

    @Test
    void ropeMatchesItsUnfusedFormAndTheInverseUndoesIt() {
        INDArray[] in = {random(8, 6, 11, 20)};
        same("rope", in, a -> {
            Rope.Tables t = Rope.Tables.of(11, 20, 10000, a[0].dataType());
            INDArray y = Rope.apply(a[0], t, false);
            return new INDArray[] {y, Rope.apply(y, t, true)};
        });
        INDArray x = random(8, 6, 11, 20).castTo(DataType.FLOAT);
        Rope.Tables t = Rope.Tables.of(11, 20, 10000, DataType.FLOAT);
        assertTrue(Rope.apply(Rope.apply(x, t, false), t, true).equalsWithEps(x, 1e-5));
    }

    @Test
    void attentionMatchesItsUnfusedFormWithGroupedHeadsAndASlidingWindow() {
        for (int window : new int[] {0, 4}) {
            Attention.Shape s = new Attention.Shape(2, 13, 4, 2, 6, window);
            INDArray[] in = {random(9, 26, 24), random(10, 26, 12), random(11, 26, 12), random(12, 26, 24)};
            same("attention window " + window, in, a -> {
                Attention.Saved[] saved = new Attention.Saved[1];
                Rope.Tables rope = Rope.Tables.of(13, 6, 10000, a[0].dataType());
                INDArray out = Attention.forward(a[0], a[1], a[2], s, rope, saved);
                INDArray[] d = Attention.backward(a[3], s, rope, saved[0]);
                return new INDArray[] {out, saved[0].probs(), d[0], d[1], d[2]};
            });
        }
    }

    @Test
    void crossEntropyMatchesItsUnfusedFormWithIgnoredRows() {
        int[] targets = {3, CrossEntropy.IGNORE, 0, 40, 17, CrossEntropy.IGNORE, 9};
        INDArray[] in = {random(16, 7, 41).muli(3)};
        double[][] losses = new double[2][];
        same("cross-entropy", in, a -> {
            CrossEntropy.Result r = CrossEntropy.compute(a[0], targets, true);
            losses[a[0].dataType() == DataType.FLOAT ? 0 : 1] = r.perRow();
            assertEquals(5, r.counted());
            return new INDArray[] {r.dLogits(), Nd4j.createFromArray(r.perRow()).castTo(a[0].dataType())};
        });
        assertEquals(0.0, losses[0][1]);
        assertEquals(0.0, losses[0][5]);
        double mean = CrossEntropy.compute(in[0].castTo(DataType.FLOAT), targets, false).loss();
        assertEquals(java.util.Arrays.stream(losses[1]).sum() / 5, mean, 1e-5);
    }

    @Test
    void viewsAreReadAsTheValuesTheyShow() {
        INDArray wide = random(13, 5, 40).castTo(DataType.FLOAT);
        INDArray view = wide.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(8, 32));
        INDArray gamma = Nd4j.ones(DataType.FLOAT, 24);
        INDArray fromView = Norms.rmsNorm(view, gamma, 1e-6, new Norms.Saved[1]);
        INDArray fromCopy = Norms.rmsNorm(view.dup('c'), gamma, 1e-6, new Norms.Saved[1]);
        assertEquals(fromCopy, fromView);
        INDArray row = wide.getRow(3, true); // a view at an offset into its buffer
        assertEquals(Activations.gelu(row.dup()), Activations.gelu(row));
    }

    @Test
    void linearOutputsOverwriteWhatTheWorkspaceHeldBefore() {
        INDArray x = random(14, 9, 16).castTo(DataType.FLOAT);
        INDArray w = random(15, 12, 16).castTo(DataType.FLOAT);
        INDArray want = Workspaces.outside(() -> Linear.forward(x, w, null));
        for (int step = 0; step < 3; step++) { // the first pass learns the workspace size, later ones reuse it
            Workspaces.inStep("fused-test", () -> Nd4j.valueArrayOf(new long[] {64, 64}, Float.NaN, DataType.FLOAT));
            INDArray got = Workspaces.inStep("fused-test", () -> {
                INDArray y = Linear.forward(x, w, null);
                INDArray dx = Linear.backward(x, w, y, null, null);
                return Nd4j.concat(1, y, dx).detach();
            });
            assertEquals(want, got.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                    org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 12)), "step " + step);
            assertEquals(0, got.isNaN().castTo(DataType.INT).sumNumber().intValue(), "step " + step);
        }
    }
}
