package org.sparseft.pst;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.sparsity.MaskSelection;
import org.sparseft.sparsity.SparsityPattern;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PstModelTest {
    private static final LlamaConfig LLAMA = LlamaConfig.of(32, 16, 16, 24, 2, 4, 2, true);

    @Test
    void cubicScheduleHoldsZeroRampsThenHoldsTheTarget() {
        PstOptions o = PstOptions.defaults(new SparsityPattern.Unstructured(0.5));
        assertEquals(0.0, o.sparsityAt(0, 100), 0.0);
        assertEquals(0.0, o.sparsityAt(10, 100), 0.0, "through the 10% initial warm-up");
        // halfway along the ramp from step 10 to step 70: 0.5·(1 − 0.5³)
        assertEquals(0.4375, o.sparsityAt(40, 100), 1e-12);
        assertEquals(0.5, o.sparsityAt(71, 100), 0.0, "the final 30% at the target");
        assertEquals(0.5, PstOptions.defaults(new SparsityPattern.NOutOfM(2, 4)).sparsityAt(0, 100), 0.0);
    }

    @Test
    void stepZeroIsMagnitudePruningAndMasksHaveExactlyTheScheduledSparsity() {
        Gpt2Config gpt2 = Gpt2Config.of(32, 16, 16, 2, 2);
        Parameters base = Parameters.initialize(gpt2, 3, DataType.FLOAT);
        PstOptions o = PstOptions.defaults(new SparsityPattern.Unstructured(0.7));
        Parameters trained = PstModel.initialize(base, o, 1);
        PstModel.Step step = PstModel.prepare(base, trained, o, 0.7);
        String mlp = "transformer.h.1.mlp.c_proj.weight";
        assertEquals(MaskSelection.whole(Transforms.abs(base.get(mlp)), (long) Math.floor(base.get(mlp).length() * 0.7)),
                step.keep(mlp), "V = B = R = C = 0: the importance is |W|");
        for (double s : new double[] {0.0, 0.13, 0.5, 0.7}) {
            randomize(trained, 5);
            PstModel.Step st = PstModel.prepare(base, trained, o, s);
            for (String w : gpt2.prunableWeights()) {
                INDArray keep = st.keep(w);
                int groups = w.contains("c_attn") ? 3 : 1;
                long per = keep.rows() / groups;
                for (int g = 0; g < groups; g++) {
                    INDArray part = keep.get(NDArrayIndex.interval(g * per, (g + 1) * per), NDArrayIndex.all());
                    assertEquals((long) Math.floor(part.length() * s), part.length() - part.sumNumber().longValue(),
                            w + " group " + g + " at " + s);
                }
            }
        }
    }

    /** Small random values everywhere, so every gradient path is live (V, B, R, C start at zero). */
    private static void randomize(Parameters trained, long seed) {
        Nd4j.getRandom().setSeed(seed);
        for (String n : trained.names()) {
            trained.get(n).assign(Nd4j.randn(DataType.FLOAT, trained.get(n).shape()).muli(0.1));
        }
    }

    @Test
    void straightThroughGradientsMatchFiniteDifferencesOfTheirSurrogate() {
        // The straight-through estimator treats ∂M/∂S as the identity. Its gradients are therefore the exact gradients
        // of a surrogate with the step's mask M0 frozen: L(θ) = Σ Q ⊙ M0 ⊙ W'(θ) + Σ K ⊙ S(θ), K = Q ⊙ W'(θ0) held
        // fixed, where Q stands for the model's gradient with respect to the effective weight. The surrogate is
        // (bi)linear in each single entry, so central differences are exact up to rounding. GPT-2 covers c_attn's
        // q, k and v parts.
        for (ModelConfig cfg : List.of(LLAMA, Gpt2Config.of(32, 16, 12, 1, 2))) {
            Parameters base = Parameters.initialize(cfg, 2, DataType.FLOAT);
            PstOptions o = new PstOptions(new SparsityPattern.Unstructured(0.5), 3, 2, 0.7, 1.3, 0.9, 0.1, 0.3);
            Parameters trained = PstModel.initialize(base, o, 4);
            randomize(trained, 6);
            Parameters q = base.zerosLike();
            Nd4j.getRandom().setSeed(8);
            for (String w : cfg.prunableWeights()) {
                q.get(w).assign(Nd4j.randn(DataType.FLOAT, q.get(w).shape()));
            }
            PstModel.Step step = PstModel.prepare(base, trained, o, 0.5);
            Parameters grads = step.gradients(q, trained);
            Map<String, INDArray> k = new LinkedHashMap<>();
            forEachPart(cfg, base, (w, part, rows) -> k.put(part.prefix(), rows.apply(q.get(w))
                    .mul(updated(rows.apply(base.get(w)), trained, o, part))));
            java.util.Random pick = new java.util.Random(9);
            double eps = 1e-2;
            int checked = 0;
            for (String n : trained.names()) {
                INDArray t = trained.get(n);
                for (int rep = 0; rep < 3; rep++) {
                    long i = pick.nextInt((int) t.length());
                    float v = t.getFloat(i);
                    t.putScalar(i, v + eps);
                    double up = surrogate(cfg, base, trained, o, step, q, k);
                    t.putScalar(i, v - eps);
                    double down = surrogate(cfg, base, trained, o, step, q, k);
                    t.putScalar(i, v);
                    double numeric = (up - down) / (2 * eps);
                    double analytic = grads.get(n).getDouble(i);
                    assertEquals(numeric, analytic, 2e-3 * Math.max(1, Math.abs(numeric)), n + "[" + i + "]");
                    checked++;
                }
            }
            int parts = cfg instanceof Gpt2Config ? 3 + 3 : 2 * 7; // c_attn's q, k, v, then c_proj, c_fc, c_proj
            assertEquals(parts * 6 * 3, checked, cfg.modelType() + ": U, V, A, B, R and C of every part");
        }
    }

    @Test
    void gradientsMappedLinearByLinearEqualMappingAWholeModelGradientBitForBit() {
        // The objective maps each linear's gradient as the backward pass finishes it, with no whole-model buffer and
        // no gradients for frozen tensors; with one pass per task that is the same arithmetic as filling a
        // whole-model gradient first and mapping it afterwards, so the bits must agree. Three families: GPT-2's
        // fused c_attn (three parts), LLaMA with GQA, OPT 350m-style projections.
        for (ModelConfig cfg : List.of(LLAMA, Gpt2Config.of(32, 16, 12, 2, 2),
                new org.sparseft.model.OptConfig(32, 16, 8, 12, 2, 2, 6, false, false, true))) {
            Parameters base = Parameters.initialize(cfg, 2, DataType.FLOAT);
            org.sparseft.model.DecoderModel model = org.sparseft.model.DecoderModel.of(base);
            PstOptions o = new PstOptions(new SparsityPattern.Unstructured(0.5), 3, 2, 0.7, 1.3, 0.9, 0.1, 0.3);
            Parameters trained = PstModel.initialize(base, o, 4);
            randomize(trained, 6);
            java.util.Random r = new java.util.Random(3);
            List<int[]> passes = List.of(r.ints(2 * 8, 0, 32).toArray(), r.ints(2 * 8, 0, 32).toArray());
            PstObjective objective = new PstObjective(() -> model, o, 10);

            PstModel.Step step = PstModel.prepare(base, trained, o, o.sparsityAt(7, 10));
            Parameters whole = base.zerosLike();
            double expectedLoss = org.sparseft.train.TrainStep.accumulate(model, step.weights(), passes.subList(0, 1),
                    2, 8, whole);
            Parameters expected = step.gradients(whole, trained);
            Parameters actual = trained.zerosLike();
            assertEquals(expectedLoss, objective.accumulate(trained, 7, passes.subList(0, 1), 2, 8, actual), 0.0);
            for (String n : trained.names()) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(expected.get(n).ravel().toFloatVector(),
                        actual.get(n).ravel().toFloatVector(), cfg.modelType() + " " + n);
            }

            // two passes: mapped per pass and summed, against the mapped sum (equal up to rounding)
            Parameters whole2 = base.zerosLike();
            org.sparseft.train.TrainStep.accumulate(model, step.weights(), passes, 2, 8, whole2);
            Parameters expected2 = step.gradients(whole2, trained);
            Parameters actual2 = trained.zerosLike();
            objective.accumulate(trained, 7, passes, 2, 8, actual2);
            for (String n : trained.names()) {
                INDArray e = expected2.get(n);
                double scale = Math.max(1e-6, e.amaxNumber().doubleValue());
                assertTrue(e.sub(actual2.get(n)).amaxNumber().doubleValue() <= 1e-5 * scale,
                        cfg.modelType() + " " + n + " over two passes");
            }

            PstModel.Step.Sink sink = step.sinkInto(trained.zerosLike());
            assertEquals(null, sink.buffer(cfg.prunableWeights().get(0).replace(".weight", ".bias")));
            for (String frozen : base.names()) {
                if (!cfg.prunableWeights().contains(frozen)) {
                    assertEquals(null, sink.buffer(frozen), frozen + " is frozen: no gradient buffer");
                }
            }
            sink.close();
        }
    }

    @FunctionalInterface
    private interface PartVisitor {
        void visit(String weight, PstModel.Part part, java.util.function.UnaryOperator<INDArray> rows);
    }

    private static void forEachPart(ModelConfig cfg, Parameters base, PartVisitor visitor) {
        for (String w : cfg.prunableWeights()) {
            for (PstModel.Part p : PstModel.parts(cfg, w, base.get(w).rows())) {
                visitor.visit(w, p, a -> a.get(NDArrayIndex.interval(p.firstRow(), p.firstRow() + p.rows()),
                        NDArrayIndex.all()).dup('c'));
            }
        }
    }

    private static INDArray updated(INDArray frozen, Parameters trained, PstOptions o, PstModel.Part p) {
        return frozen.add(trained.get(p.tensor("pst_U")).mmul(trained.get(p.tensor("pst_V"))).muli(o.beta()));
    }

    private static double surrogate(ModelConfig cfg, Parameters base, Parameters trained, PstOptions o,
                                    PstModel.Step step, Parameters q, Map<String, INDArray> k) {
        double[] sum = {0};
        forEachPart(cfg, base, (w, p, rows) -> {
            INDArray wp = updated(rows.apply(base.get(w)), trained, o, p).castTo(DataType.DOUBLE);
            long n = wp.rows();
            long c = wp.columns();
            INDArray s = Transforms.abs(wp, true)
                    .addi(trained.get(p.tensor("pst_A")).mmul(trained.get(p.tensor("pst_B"))).castTo(DataType.DOUBLE)
                            .muli(o.alpha1()))
                    .addiColumnVector(trained.get(p.tensor("pst_R")).castTo(DataType.DOUBLE).reshape(n, 1)
                            .mul(o.alpha2()))
                    .addiRowVector(trained.get(p.tensor("pst_C")).castTo(DataType.DOUBLE).reshape(1, c)
                            .mul(o.alpha2()));
            INDArray qd = rows.apply(q.get(w)).castTo(DataType.DOUBLE);
            sum[0] += qd.mul(rows.apply(step.keep(w)).castTo(DataType.DOUBLE)).muli(wp).sumNumber().doubleValue();
            sum[0] += k.get(p.prefix()).castTo(DataType.DOUBLE).mul(s).sumNumber().doubleValue();
        });
        return sum[0];
    }
}
