package org.sparseft.train;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.Parameters;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainTest {
    private static final LlamaConfig TINY = LlamaConfig.of(32, 16, 16, 32, 2, 4, 2, true);

    @Test
    void scheduleFollowsWarmupThenCosineOrLinear() {
        LearningRateSchedule cos = new LearningRateSchedule(1e-3, 10, 110, LearningRateSchedule.Decay.COSINE, 0);
        assertEquals(0.0, cos.at(0));
        assertEquals(5e-4, cos.at(5), 1e-15);
        assertEquals(1e-3, cos.at(10), 1e-15);
        assertEquals(5e-4, cos.at(60), 1e-15, "half way through the decay: cos(π/2)");
        assertEquals(0.0, cos.at(110), 1e-15);
        LearningRateSchedule lin = new LearningRateSchedule(1e-3, 0, 100, LearningRateSchedule.Decay.LINEAR, 0.1);
        assertEquals(1e-3, lin.at(0), 1e-15);
        assertEquals(1e-4 + 0.9e-3 * 0.75, lin.at(25), 1e-15);
    }

    @Test
    void adamWFirstStepsMatchHandComputation() {
        Parameters p = Parameters.initialize(TINY, 1, DataType.DOUBLE);
        String w = "model.layers.0.mlp.up_proj.weight";
        String norm = "model.norm.weight";
        p.get(w).assign(2.0);
        Parameters g = p.zerosLike();
        g.get(w).assign(0.5);
        g.get(norm).assign(-0.25);
        AdamW opt = new AdamW(p, new AdamW.Options(0.9, 0.999, 1e-8, 0.1));
        opt.step(p, g, Set.of(w, norm), 0.01);
        // step 1: m̂ = g, v̂ = g², so the step is lr·g/(|g| + ε) = ±lr; decay first: 2·(1 − 0.01·0.1) = 1.998
        assertEquals(1.998 - 0.01 * 0.5 / (0.5 + 1e-8), p.get(w).getDouble(0), 1e-12);
        assertEquals(1 + 0.01 * 0.25 / (0.25 + 1e-8), p.get(norm).getDouble(0), 1e-12, "no decay on norm scales");
        opt.step(p, g, Set.of(w, norm), 0.01);
        // step 2 with the same gradient: m̂ = g and v̂ = g² again
        double expected = (1.998 - 0.01 * 0.5 / (0.5 + 1e-8)) * (1 - 0.001) - 0.01 * 0.5 / (0.5 + 1e-8);
        assertEquals(expected, p.get(w).getDouble(0), 1e-12);
    }

    @Test
    void clippingScalesToTheMaximumNorm() {
        Parameters p = Parameters.initialize(TINY, 1, DataType.DOUBLE);
        Parameters g = p.zerosLike();
        g.get("model.norm.weight").assign(3.0);   // 16 elements: norm 12
        double before = AdamW.clipGlobalNorm(g, g.names(), 6.0);
        assertEquals(12.0, before, 1e-12);
        assertEquals(6.0, AdamW.globalNorm(g, g.names()), 1e-5);
    }

    @Test
    void fiftyStepsOnAFixedBatchDriveTheLossDown() {
        DecoderModel model = DecoderModel.of(Parameters.initialize(TINY, 7, DataType.FLOAT));
        Nd4j.getRandom().setSeed(3);
        int[] tokens = Nd4j.rand(DataType.FLOAT, 64).muli(32).castTo(DataType.INT).toIntVector(); // 4 x 16
        AdamW opt = new AdamW(model.parameters(), AdamW.Options.DEFAULT);
        LearningRateSchedule lr = new LearningRateSchedule(1e-2, 5, 50, LearningRateSchedule.Decay.COSINE, 0.1);
        double first = 0;
        double last = 0;
        for (int step = 0; step < 50; step++) {
            TrainStep.Result r = TrainStep.run(model, opt, lr, step, List.of(tokens), 4, 16, 1.0);
            if (step == 0) {
                first = r.loss();
            }
            last = r.loss();
        }
        assertEquals(Math.log(32), first, 0.05, "starts near uniform");
        assertTrue(last < 0.3 * first, "at least 70% lower after 50 steps: " + first + " -> " + last);
    }

    @Test
    void accumulatedMicroBatchesEqualOneBatch() {
        Parameters a = Parameters.initialize(TINY, 9, DataType.DOUBLE);
        Parameters b = a.castTo(DataType.DOUBLE);
        int[] half1 = {1, 2, 3, 4, 5, 6, 7, 8};
        int[] half2 = {9, 10, 11, 12, 13, 14, 15, 16};
        int[] whole = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        LearningRateSchedule lr = new LearningRateSchedule(1e-3, 0, 10, LearningRateSchedule.Decay.CONSTANT, 0);
        TrainStep.Result r1 = TrainStep.run(DecoderModel.of(a), new AdamW(a, AdamW.Options.DEFAULT), lr, 0,
                List.of(half1, half2), 1, 8, 0);
        TrainStep.Result r2 = TrainStep.run(DecoderModel.of(b), new AdamW(b, AdamW.Options.DEFAULT), lr, 0,
                List.of(whole), 2, 8, 0);
        assertEquals(r2.loss(), r1.loss(), 1e-12);
        assertEquals(r2.gradNorm(), r1.gradNorm(), 1e-12);
        for (String n : a.names()) {
            assertTrue(a.get(n).equalsWithEps(b.get(n), 1e-12), n);
        }
    }
}
