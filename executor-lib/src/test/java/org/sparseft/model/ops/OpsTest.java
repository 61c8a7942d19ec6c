package org.sparseft.model.ops;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparseft.model.ops.GradientCheck.check;
import static org.sparseft.model.ops.GradientCheck.random;

class OpsTest {

    @Test
    void linearGradients() {
        INDArray[] in = {random(1, 5, 4), random(2, 3, 4), random(3, 3)};
        check("linear", in, x -> Linear.forward(x[0], x[1], x[2]), (x, dy) -> {
            INDArray dW = Nd4j.zeros(DataType.DOUBLE, 3, 4);
            INDArray db = Nd4j.zeros(DataType.DOUBLE, 3);
            INDArray dx = Linear.backward(x[0], x[1], dy, dW, db);
            return new INDArray[] {dx, dW, db};
        });
    }

    @Test
    void linearMatchesHandComputation() {
        INDArray x = Nd4j.createFromArray(new double[][] {{1, 2}});
        INDArray w = Nd4j.createFromArray(new double[][] {{3, 4}, {-1, 0.5}});
        assertArrayEquals(new double[] {11 + 1, -1 + 1 + 1}, Linear.forward(x, w, Nd4j.createFromArray(1.0, 1.0))
                .toDoubleVector(), 1e-12);
    }

    @Test
    void layerNormValuesAndGradients() {
        INDArray x = Nd4j.createFromArray(new double[][] {{1, 2, 3, 6}});
        INDArray y = Norms.layerNorm(x, Nd4j.ones(DataType.DOUBLE, 4), Nd4j.zeros(DataType.DOUBLE, 4), 0,
                new Norms.Saved[1]);
        // mean 3, variance (4 + 1 + 0 + 9)/4 = 3.5
        double sd = Math.sqrt(3.5);
        assertArrayEquals(new double[] {-2 / sd, -1 / sd, 0, 3 / sd}, y.toDoubleVector(), 1e-12);
        INDArray[] in = {random(4, 4, 6), random(5, 6), random(6, 6)};
        check("layerNorm", in, a -> Norms.layerNorm(a[0], a[1], a[2], 1e-5, new Norms.Saved[1]), (a, dy) -> {
            Norms.Saved[] s = new Norms.Saved[1];
            Norms.layerNorm(a[0], a[1], a[2], 1e-5, s);
            INDArray dg = Nd4j.zeros(DataType.DOUBLE, 6);
            INDArray db = Nd4j.zeros(DataType.DOUBLE, 6);
            INDArray dx = Norms.layerNormBackward(dy, a[1], s[0], dg, db);
            return new INDArray[] {dx, dg, db};
        });
    }

    @Test
    void rmsNormValuesAndGradients() {
        INDArray x = Nd4j.createFromArray(new double[][] {{1, -1, 1, -1}, {3, 4, 0, 0}});
        INDArray y = Norms.rmsNorm(x, Nd4j.createFromArray(1.0, 2.0, 1.0, 1.0), 0, new Norms.Saved[1]);
        // row 1: rms 1; row 2: rms √(25/4) = 2.5
        assertArrayEquals(new double[] {1, -2, 1, -1, 1.2, 3.2, 0, 0}, y.reshape(8).toDoubleVector(), 1e-12);
        INDArray[] in = {random(7, 3, 5), random(8, 5)};
        check("rmsNorm", in, a -> Norms.rmsNorm(a[0], a[1], 1e-6, new Norms.Saved[1]), (a, dy) -> {
            Norms.Saved[] s = new Norms.Saved[1];
            Norms.rmsNorm(a[0], a[1], 1e-6, s);
            INDArray dg = Nd4j.zeros(DataType.DOUBLE, 5);
            return new INDArray[] {Norms.rmsNormBackward(dy, a[1], s[0], dg), dg};
        });
    }

    @Test
    void geluValuesAndGradients() {
        INDArray y = Activations.gelu(Nd4j.createFromArray(0.0, 1.0, -1.0, 3.0));
        // 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) worked out by hand for x = 1: tanh(0.7978846 · 1.044715)
        double g1 = 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * 1.044715));
        assertArrayEquals(new double[] {0, g1, g1 - 1, 3 * 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (3 + 0.044715 * 27)))},
                y.toDoubleVector(), 1e-12);
        assertEquals(0.8411919906, g1, 1e-9);
        check("gelu", new INDArray[] {random(9, 4, 5)}, a -> Activations.gelu(a[0]),
                (a, dy) -> new INDArray[] {Activations.geluBackward(a[0], dy)});
    }

    @Test
    void swigluGradients() {
        INDArray[] in = {random(10, 3, 4), random(11, 3, 4)};
        check("swiglu", in, a -> Activations.swiglu(a[0], a[1]), (a, dy) -> Activations.swigluBackward(a[0], a[1], dy));
        double g = 2.0;
        double silu = g / (1 + Math.exp(-g));
        assertEquals(silu * 3, Activations.swiglu(Nd4j.createFromArray(g), Nd4j.createFromArray(3.0)).getDouble(0), 1e-12);
    }

    @Test
    void ropeRotatesAKnownVector() {
        Rope.Tables t = Rope.Tables.of(2, 4, 10000, DataType.DOUBLE);
        INDArray x = Nd4j.createFromArray(new double[] {0, 0, 0, 0, 1, 2, 3, 4}).reshape(1, 2, 4);
        x.get(NDArrayIndex.point(0), NDArrayIndex.point(0), NDArrayIndex.all()).assign(Nd4j.createFromArray(1.0, 2, 3, 4));
        INDArray y = Rope.apply(x, t, false);
        assertArrayEquals(new double[] {1, 2, 3, 4}, y.get(NDArrayIndex.point(0), NDArrayIndex.point(0),
                NDArrayIndex.all()).toDoubleVector(), 1e-12, "position 0 is not rotated");
        // position 1: pairs (x0, x2) by angle 1 and (x1, x3) by angle 10000^(-1/2) = 0.01
        double c1 = Math.cos(1);
        double s1 = Math.sin(1);
        double c2 = Math.cos(0.01);
        double s2 = Math.sin(0.01);
        assertArrayEquals(new double[] {c1 - 3 * s1, 2 * c2 - 4 * s2, 3 * c1 + s1, 4 * c2 + 2 * s2},
                y.get(NDArrayIndex.point(0), NDArrayIndex.point(1), NDArrayIndex.all()).toDoubleVector(), 1e-12);
        Rope.Tables t3 = Rope.Tables.of(3, 4, 10000, DataType.DOUBLE);
        check("rope", new INDArray[] {random(12, 2, 3, 4)}, a -> Rope.apply(a[0], t3, false),
                (a, dy) -> new INDArray[] {Rope.apply(dy, t3, true)});
    }

    @Test
    void ropeScalingFrequenciesAsTransformersComputesThem() {
        // head 8, θ 10⁴: base frequencies 1, 0.1, 0.01, 0.001 (wavelengths 6.3, 63, 628, 6283)
        double[] linear = new Rope.Scaling(Rope.Scaling.Kind.LINEAR, 4, 0, 0, 0).inverseFrequencies(8, 10000);
        assertArrayEquals(new double[] {0.25, 0.025, 0.0025, 0.00025}, linear, 1e-15);
        // LLaMA-3.1 with an original context of 64, factor 8, bands at wavelengths 64/4 = 16 and 64/1 = 64: the
        // first stays, the second is blended (63 lies between), the last two are divided by 8 (values from a
        // separate evaluation of transformers' formula)
        double[] llama3 = new Rope.Scaling(Rope.Scaling.Kind.LLAMA3, 8, 1, 4, 64).inverseFrequencies(8, 10000);
        assertArrayEquals(new double[] {1.0, 0.013042256043820465, 0.00125, 0.000125}, llama3, 1e-15);
        assertArrayEquals(new double[] {1, 0.1, 0.01, 0.001}, Rope.Scaling.NONE.inverseFrequencies(8, 10000), 1e-15);
    }

    @Test
    void slidingWindowAttentionGradients() {
        checkAttention(new Attention.Shape(2, 5, 4, 2, 4, 2), Rope.Tables.of(5, 4, 10000, DataType.DOUBLE), 31);
    }

    private static void checkAttention(Attention.Shape s, Rope.Tables rope, long seed) {
        int n = s.batch() * s.seqLen();
        INDArray[] in = {random(seed, n, s.heads() * s.headDim()), random(seed + 1, n, s.kvHeads() * s.headDim()),
                random(seed + 2, n, s.kvHeads() * s.headDim())};
        check("attention " + s, in, a -> Attention.forward(a[0], a[1], a[2], s, rope, null), (a, dy) -> {
            Attention.Saved[] saved = new Attention.Saved[1];
            Attention.forward(a[0], a[1], a[2], s, rope, saved);
            return Attention.backward(dy, s, rope, saved[0]);
        });
    }

    @Test
    void attentionGradientsMultiHead() {
        checkAttention(new Attention.Shape(2, 3, 2, 2, 2), null, 20);
    }

    @Test
    void attentionGradientsGroupedQueryWithRope() {
        checkAttention(new Attention.Shape(2, 3, 4, 2, 4), Rope.Tables.of(3, 4, 10000, DataType.DOUBLE), 30);
    }

    @Test
    void laterTokensNeverChangeEarlierPositions() {
        Attention.Shape s = new Attention.Shape(1, 4, 2, 1, 2);
        INDArray q = random(40, 4, 4);
        INDArray k = random(41, 4, 2);
        INDArray v = random(42, 4, 2);
        INDArray before = Attention.forward(q, k, v, s, null, null);
        k.getRow(3).addi(5);
        v.getRow(2).addi(-3);
        INDArray after = Attention.forward(q, k, v, s, null, null);
        assertArrayEquals(before.getRow(0).toDoubleVector(), after.getRow(0).toDoubleVector(), 0.0);
        assertArrayEquals(before.getRow(1).toDoubleVector(), after.getRow(1).toDoubleVector(), 0.0);
        assertFalse(java.util.Arrays.equals(before.getRow(2).toDoubleVector(), after.getRow(2).toDoubleVector()));
        // the first position attends to itself only: its output is v[0]
        assertArrayEquals(v.getRow(0).toDoubleVector(), after.getRow(0).get(NDArrayIndex.interval(0, 2)).toDoubleVector(), 1e-12);
    }

    @Test
    void groupedQueryHeadsShareTheirKeyValueHead() {
        // 4 query heads over 2 KV heads equals plain attention with each KV head written out twice
        Attention.Shape gqa = new Attention.Shape(2, 3, 4, 2, 2);
        Attention.Shape mha = new Attention.Shape(2, 3, 4, 4, 2);
        INDArray q = random(50, 6, 8);
        INDArray k = random(51, 6, 4);
        INDArray v = random(52, 6, 4);
        INDArray kDup = Nd4j.hstack(k.getColumns(0, 1), k.getColumns(0, 1), k.getColumns(2, 3), k.getColumns(2, 3));
        INDArray vDup = Nd4j.hstack(v.getColumns(0, 1), v.getColumns(0, 1), v.getColumns(2, 3), v.getColumns(2, 3));
        assertTrue(Attention.forward(q, k, v, gqa, null, null).equalsWithEps(Attention.forward(q, kDup, vDup, mha, null, null), 1e-12));
    }

    @Test
    void crossEntropyValueAndGradient() {
        CrossEntropy.Result r = CrossEntropy.compute(Nd4j.createFromArray(new double[][] {{0, Math.log(3)}, {5, 5}}),
                new int[] {1, CrossEntropy.IGNORE}, true);
        assertEquals(-Math.log(0.75), r.loss(), 1e-12);
        assertEquals(1, r.counted());
        assertArrayEquals(new double[] {0.25, -0.25, 0, 0}, r.dLogits().reshape(4).toDoubleVector(), 1e-12);
        int[] targets = {2, 0, 1};
        check("cross-entropy", new INDArray[] {random(60, 3, 4)},
                a -> Nd4j.scalar(CrossEntropy.compute(a[0], targets, false).loss()).reshape(1),
                (a, dy) -> new INDArray[] {CrossEntropy.compute(a[0], targets, true).dLogits().muli(dy.getDouble(0))});
    }

    @Test
    void embeddingGradientAccumulatesRepeatedIds() {
        int[] ids = {2, 0, 2, 1};
        check("embedding", new INDArray[] {random(70, 3, 4)}, a -> Embedding.forward(a[0], ids), (a, dy) -> {
            INDArray d = Nd4j.zeros(DataType.DOUBLE, 3, 4);
            Embedding.backward(ids, dy, d);
            return new INDArray[] {d};
        });
    }

    @Test
    void embeddingBackwardOverManyDistinctIdsIsExactAndRepeatable() {
        // more than one 1024-id block of the one-hot GEMM, into a table that already holds gradients
        java.util.Random r = new java.util.Random(5);
        int vocab = 3000;
        int n = 5000;
        int d = 3;
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = r.nextInt(vocab);
        }
        INDArray dy = Nd4j.rand(DataType.FLOAT, n, d);
        INDArray start = Nd4j.rand(DataType.FLOAT, vocab, d);
        double[][] expected = new double[vocab][d];
        for (int v = 0; v < vocab; v++) {
            for (int j = 0; j < d; j++) {
                expected[v][j] = start.getDouble(v, j);
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                expected[ids[i]][j] += dy.getDouble(i, j);
            }
        }
        INDArray once = start.dup();
        Embedding.backward(ids, dy, once);
        INDArray twice = start.dup();
        Embedding.backward(ids, dy, twice);
        assertEquals(once, twice, "bit-identical on repetition");
        for (int v = 0; v < vocab; v++) {
            for (int j = 0; j < d; j++) {
                assertEquals(expected[v][j], once.getDouble(v, j), 1e-5, "row " + v);
            }
        }
    }
}
