package org.sparseft.ast;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.hf.SlorbBranch;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.Parameters;
import org.sparseft.model.ops.CrossEntropy;
import org.sparseft.sparsity.SparsityPattern;
import org.sparseft.train.AdamW;
import org.sparseft.train.LearningRateSchedule;
import org.sparseft.train.TrainStep;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** AST's pieces: N:M masks, the decay, the loss without distillation, and SLoRB's branch, gradients and export. */
class AstTest {
    private static final LlamaConfig TINY = LlamaConfig.of(32, 16, 16, 24, 2, 4, 2, true);
    private static final SparsityPattern.NOutOfM TWO_FOUR = new SparsityPattern.NOutOfM(2, 4);
    private static final int[] TOKENS = {1, 5, 2, 9, 3, 3, 10, 0};   // batch 2 x seqLen 4

    @TempDir
    Path tmp;

    private static AstOptions options(double decay, Distillation d, int slorb) {
        return new AstOptions(TWO_FOUR, 3, decay, 0.25, d, slorb);
    }

    private static Parameters randomParams(DataType dtype, long seed) {
        Parameters p = Parameters.initialize(TINY, seed, dtype);
        Nd4j.getRandom().setSeed(seed);
        for (String n : p.names()) {
            p.get(n).addi(Nd4j.randn(dtype, p.get(n).shape()).muli(0.3));
        }
        return p;
    }

    @Test
    void masksKeepExactlyTheLargestTwoOfFourAndPackLosslessly() {
        Parameters p = randomParams(DataType.FLOAT, 1);
        NmMasks masks = NmMasks.byMagnitude(p, TINY.prunableWeights(), TWO_FOUR);
        for (String w : TINY.prunableWeights()) {
            INDArray keep = masks.keep(w);
            INDArray abs = org.nd4j.linalg.ops.transforms.Transforms.abs(p.get(w));
            for (long r = 0; r < keep.rows(); r++) {
                for (long g = 0; g < keep.columns(); g += 4) {
                    double minKept = Double.MAX_VALUE;
                    double maxPruned = -1;
                    int kept = 0;
                    for (long j = g; j < g + 4; j++) {
                        if (keep.getDouble(r, j) == 1) {
                            kept++;
                            minKept = Math.min(minKept, abs.getDouble(r, j));
                        } else {
                            maxPruned = Math.max(maxPruned, abs.getDouble(r, j));
                        }
                    }
                    assertEquals(2, kept, w + " row " + r + " group " + g);
                    assertTrue(minKept >= maxPruned, w + ": the two largest magnitudes are kept");
                }
            }
            byte[] bytes = masks.bytes(w);
            assertEquals(keep.length(), bytes.length);
        }
        Map<String, byte[]> bytes = new LinkedHashMap<>();
        masks.names().forEach(w -> bytes.put(w, masks.bytes(w)));
        NmMasks back = NmMasks.ofBytes(masks.shapes(), bytes);
        assertEquals(0, back.changedFrom(masks));
        assertEquals(masks.size() / 2, masks.kept());
        // swap one kept and one pruned entry of one group: two entries change
        String w = TINY.prunableWeights().get(0);
        INDArray k = masks.keep(w);
        int kept = k.getDouble(0, 0) == 1 ? 0 : (k.getDouble(0, 1) == 1 ? 1 : 2);
        int pruned = k.getDouble(0, 3) == 0 ? 3 : (k.getDouble(0, 2) == 0 ? 2 : 1);
        k.putScalar(0, kept, 0);
        k.putScalar(0, pruned, 1);
        Map<String, INDArray> changed = new LinkedHashMap<>();
        masks.names().forEach(n -> changed.put(n, n.equals(w) ? k : masks.keep(n)));
        assertEquals(2, NmMasks.of(changed).changedFrom(masks));
    }

    @Test
    void decayRampsLinearlyThenHoldsAndPullsOnlyPrunedWeights() {
        AstOptions o = new AstOptions(TWO_FOUR, 10, 1e-4, 0.25, Distillation.GPT2, 0);
        assertEquals(0.0, o.decayAt(0, 100), 0.0);
        assertEquals(4e-5, o.decayAt(10, 100), 1e-18, "10 of the 25 ramp steps");
        assertEquals(1e-4, o.decayAt(25, 100), 0.0);
        assertEquals(1e-4, o.decayAt(99, 100), 0.0);
        assertEquals(1e-4, new AstOptions(TWO_FOUR, 10, 1e-4, 0, Distillation.GPT2, 0).decayAt(0, 100), 0.0,
                "no ramp");
        assertTrue(o.reselectAfter(9, 10) && !o.reselectAfter(10, 11) && o.reselectAfter(15, 25));
        assertTrue(!new AstOptions(TWO_FOUR, 0, 0, 0, Distillation.GPT2, 0).reselectAfter(0, 100), "0: fixed");

        Parameters p = randomParams(DataType.FLOAT, 2);
        NmMasks masks = NmMasks.byMagnitude(p, TINY.prunableWeights(), TWO_FOUR);
        AstObjective objective = new AstObjective(null, o, masks, 100);
        Parameters grads = p.zerosLike();
        objective.regularise(p, grads, 10);
        for (String n : p.names()) {
            INDArray expected = masks.covers(n) ? p.get(n).mul(masks.keep(n).rsub(1.0)).muli(4e-5)
                    : Nd4j.zeros(DataType.FLOAT, p.get(n).shape());
            assertArrayEquals(expected.data().asFloat(), grads.get(n).data().asFloat(), 1e-12f, n);
        }
        String w = TINY.prunableWeights().get(2);
        INDArray keep = masks.keep(w);
        for (long i = 0; i < keep.length(); i++) { // by hand, element by element
            float want = keep.getFloat(i) == 0 ? (float) (4e-5 * p.get(w).getFloat(i)) : 0f;
            assertEquals(want, grads.get(w).getFloat(i), 1e-12f);
        }
    }

    @Test
    void withoutDistillationOrDecayItIsPlainMaskedTraining() {
        Parameters p = randomParams(DataType.FLOAT, 3);
        NmMasks masks = NmMasks.byMagnitude(p, TINY.prunableWeights(), TWO_FOUR);
        AstObjective objective = new AstObjective(null, options(0, new Distillation(2, 1, 0), 0), masks, 10);
        List<int[]> micro = List.of(TOKENS, new int[] {4, 4, 7, 1, 0, 2, 2, 8});
        Parameters ast = p.zerosLike();
        double astLoss = objective.accumulate(p, 0, micro, 2, 4, ast);
        Map<String, INDArray> keep = objective.keepMasks();
        Parameters plain = p.zerosLike();
        double plainLoss = TrainStep.accumulate(DecoderModel.of(p), (n, w) -> keep.containsKey(n) ? w.mul(keep.get(n))
                : w, micro, 2, 4, plain);
        assertEquals(plainLoss, astLoss, 0.0);
        assertArrayEquals(plain.toFlat(), ast.toFlat(), 0f, "the straight-through gradient of M ⊙ W");
        objective.regularise(p, ast, 5);
        assertArrayEquals(plain.toFlat(), ast.toFlat(), 0f, "decay 0 adds nothing");
    }

    @Test
    void decayDrivesPrunedWeightsTowardsZero() {
        // the same 30 masked steps with and without a strong decay: the pruned weights' norm shrinks only with it
        double[] norms = new double[2];
        double[] keptNorms = new double[2];
        for (int run = 0; run < 2; run++) {
            Parameters p = randomParams(DataType.FLOAT, 4);
            AstTraining.Start s = AstTraining.start(p, new AstOptions(TWO_FOUR, 0, run == 0 ? 0 : 0.5, 0,
                    new Distillation(2, 1, 0), 0), 30, null);
            AdamW adam = new AdamW(s.trained(), new AdamW.Options(0.9, 0.95, 1e-8, 0));
            LearningRateSchedule lr = new LearningRateSchedule(1e-2, 0, 30, LearningRateSchedule.Decay.COSINE, 0.1);
            for (int step = 0; step < 30; step++) {
                Parameters g = s.trained().zerosLike();
                var objective = s.training().current();
                double loss = objective.accumulate(s.trained(), step, List.of(TOKENS), 2, 4, g);
                TrainStep.update(s.trained(), g, loss, adam, lr, step, 1.0, objective);
            }
            NmMasks m = s.training().masks();
            for (String w : m.names()) {
                INDArray keep = m.keep(w);
                norms[run] += s.trained().get(w).mul(keep.rsub(1.0)).norm2Number().doubleValue();
                keptNorms[run] += s.trained().get(w).mul(keep).norm2Number().doubleValue();
            }
        }
        assertTrue(norms[1] < 0.5 * norms[0], "pruned-weight norm with decay " + norms[1] + " vs without "
                + norms[0]);
        assertTrue(keptNorms[1] > 0.8 * keptNorms[0], "kept weights are not decayed: " + keptNorms[1] + " vs "
                + keptNorms[0]);
    }

    @Test
    void slorbStartsFromThePrunedMeansAndItsGradientsMatchFiniteDifferences() {
        Parameters p = randomParams(DataType.DOUBLE, 5);
        NmMasks masks = NmMasks.byMagnitude(p.castTo(DataType.FLOAT), TINY.prunableWeights(), TWO_FOUR);
        String w = "model.layers.1.mlp.down_proj.weight";
        Map<String, INDArray> t = new LinkedHashMap<>();
        INDArray keep = masks.keep(w).castTo(DataType.DOUBLE);
        Slorb.initialize(t, w, p.get(w), keep, 4);
        INDArray s = t.get(Slorb.s(w));
        INDArray proj = t.get(Slorb.p(w));
        assertArrayEquals(new long[] {16, 6}, s.shape());
        assertArrayEquals(new long[] {6, 24}, proj.shape());
        for (int g = 0; g < 6; g++) { // S = the mean over the group of the pruned weights (kept count as 0)
            double sum = 0;
            for (int j = 4 * g; j < 4 * g + 4; j++) {
                sum += keep.getDouble(3, j) == 0 ? p.get(w).getDouble(3, j) : 0;
                assertEquals(j / 4 == g ? 1.0 : 0.0, proj.getDouble(g, j), 0.0);
            }
            assertEquals(sum / 4, s.getDouble(3, g), 1e-12);
        }
        // random S and P, so that every entry's gradient is non-trivial
        Nd4j.getRandom().setSeed(9);
        t.put(Slorb.s(w), Nd4j.randn(DataType.DOUBLE, 16, 6).muli(0.3));
        t.put(Slorb.p(w), Nd4j.randn(DataType.DOUBLE, 6, 24).muli(0.3));
        Map<String, INDArray> all = new LinkedHashMap<>();
        p.names().forEach(n -> all.put(n, p.get(n)));
        all.putAll(t);
        Parameters trained = Parameters.of(TINY, all);
        DecoderModel model = DecoderModel.of(trained);
        int[] targets = DecoderModel.shiftedTargets(TOKENS, 2, 4);
        java.util.function.Supplier<EffectiveWeights> weights = () -> AstObjective.effective(Map.of(w, keep),
                Map.of(w, Slorb.term(trained, w)));
        Parameters grads = trained.zerosLike();
        model.lossAndGradients(TOKENS, targets, 2, 4, weights.get(), grads);
        Slorb.addGradients(trained, grads, w, grads.get(w));
        double h = 1e-6;
        for (String name : List.of(Slorb.s(w), Slorb.p(w))) {
            INDArray x = trained.get(name);
            for (long i = 0; i < x.length(); i += 7) {
                double v = x.getDouble(i);
                x.putScalar(i, v + h);
                double up = CrossEntropy.compute(model.logits(TOKENS, 2, 4, weights.get()), targets, false).loss();
                x.putScalar(i, v - h);
                double down = CrossEntropy.compute(model.logits(TOKENS, 2, 4, weights.get()), targets, false).loss();
                x.putScalar(i, v);
                double numeric = (up - down) / (2 * h);
                assertEquals(numeric, grads.get(name).getDouble(i), 1e-7 + 1e-5 * Math.abs(numeric), name + "[" + i + "]");
            }
        }
    }

    @Test
    void theExportedBranchGivesTheTrainedModelsLogits() throws Exception {
        Parameters p = randomParams(DataType.FLOAT, 6);
        AstTraining.Start s = AstTraining.start(p, options(6e-5, Distillation.GPT2, 8), 10, null);
        Parameters trained = s.trained();
        Nd4j.getRandom().setSeed(11);
        for (String w : TINY.prunableWeights()) { // trained-looking S and P
            trained.get(Slorb.s(w)).addi(Nd4j.randn(DataType.FLOAT, trained.get(Slorb.s(w)).shape()).muli(0.1));
            trained.get(Slorb.p(w)).addi(Nd4j.randn(DataType.FLOAT, trained.get(Slorb.p(w)).shape()).muli(0.1));
        }
        AstObjective o = (AstObjective) s.training().current();
        INDArray expected = DecoderModel.of(trained).logits(TOKENS, 2, 4,
                AstObjective.effective(o.keepMasks(), o.slorbTerms(trained)));
        // the export: M ⊙ W in the checkpoint (exactly 2:4), S and P beside it
        Map<String, INDArray> exported = new LinkedHashMap<>();
        List<SafetensorsWriter.Entry> branch = new ArrayList<>();
        for (String n : p.names()) {
            exported.put(n, o.masks().covers(n) ? trained.get(n).mul(o.masks().keep(n)) : trained.get(n));
            if (o.masks().covers(n)) {
                for (String b : List.of(Slorb.s(n), Slorb.p(n))) {
                    branch.add(SafetensorsWriter.Entry.ofFloats(b, DType.F32, trained.get(b).shape(),
                            trained.get(b).dup('c').data().asFloat()));
                }
            }
        }
        Storage storage = HadoopStorage.withDefaults();
        String dir = tmp.resolve("export").toString();
        HfCheckpointWriter.write(storage, dir, HfConfig.of(TINY, "float32"),
                Parameters.of(TINY, exported).toEntries(DType.F32), Map.of(), Map.of(), 0, false);
        SafetensorsWriter.write(storage, Storage.join(dir, SlorbBranch.FILE), branch, Map.of());
        try (HfCheckpoint c = HfCheckpoint.open(storage, dir)) {
            INDArray loaded = DecoderModel.of(c.parameters(DataType.FLOAT)).logits(TOKENS, 2, 4,
                    EffectiveWeights.DENSE);
            assertArrayEquals(expected.data().asFloat(), loaded.data().asFloat(), 1e-5f,
                    "checkpoint + branch = the trained model");
        }
    }
}
