package org.sparseft.model;

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
import org.sparseft.io.safetensors.DType;
import org.sparseft.model.ops.CrossEntropy;
import org.sparseft.model.ops.Rope;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DecoderModelTest {
    /**
     * Every element of every parameter, in float64: |analytic − numeric| / (|analytic| + |numeric|) below 1e-5, or
     * an absolute difference below 1e-8 where the true gradient is zero (GPT-2's key bias cannot change a softmax
     * over keys) and central differences only see round-off (≈ 1e-10 here).
     */
    static final double MAX_RELATIVE_ERROR = 1e-5;
    static final double MAX_ABSOLUTE_ERROR = 1e-8;
    private static final double H = 1e-6;

    static final Gpt2Config MICRO_GPT2 = new Gpt2Config(11, 8, 8, 2, 2, 12, 1e-5, "gelu_new", true);
    static final LlamaConfig MICRO_LLAMA = LlamaConfig.of(11, 8, 8, 12, 2, 4, 2, false);

    /** The LLaMA layout's other families at the same micro size, each with its switches on. */
    static final LlamaConfig MICRO_MISTRAL = new LlamaConfig(LlamaConfig.Family.MISTRAL, 11, 8, 8, 12, 2, 4, 2, 2,
            1e-6, 10000.0, Rope.Scaling.NONE, false, false, false, false, false, 2, 0); // window 2 < seqLen 4
    static final LlamaConfig MICRO_QWEN2 = new LlamaConfig(LlamaConfig.Family.QWEN2, 11, 8, 8, 12, 2, 4, 2, 2,
            1e-6, 10000.0, Rope.Scaling.NONE, true, true, false, false, false, 3, 1); // window on layer 1 only
    static final LlamaConfig MICRO_QWEN3 = new LlamaConfig(LlamaConfig.Family.QWEN3, 11, 8, 8, 12, 2, 4, 2, 4,
            1e-6, 10000.0, Rope.Scaling.NONE, false, false, false, false, true, 0, 0); // head_dim 4 ≠ 8 / 4
    /** LLaMA-3.1's rope scaling, with a context so short that all three frequency bands occur. */
    static final LlamaConfig MICRO_LLAMA31 = new LlamaConfig(LlamaConfig.Family.LLAMA, 11, 8, 8, 12, 2, 2, 1, 4,
            1e-6, 10000.0, new Rope.Scaling(Rope.Scaling.Kind.LLAMA3, 8, 1, 4, 64), false, true, true, true, false,
            0, 0);

    /** OPT as released (pre-LN, tied) and as OPT-350m (post-LN, no final norm, embeddings of 6 projected to 8). */
    static final OptConfig MICRO_OPT = OptConfig.of(11, 8, 8, 12, 2, 2);
    static final OptConfig MICRO_OPT350 = new OptConfig(11, 8, 8, 12, 2, 2, 6, false, false, true);

    @TempDir
    Path tmp;

    private static final int[] TOKENS = {1, 5, 2, 9, 3, 3, 10, 0};   // batch 2 x seqLen 4

    /** Random, not the small init: gradients of every part are then far from zero. */
    private static Parameters randomParams(ModelConfig cfg, long seed) {
        Parameters p = Parameters.initialize(cfg, seed, DataType.DOUBLE);
        Nd4j.getRandom().setSeed(seed);
        for (String n : p.names()) {
            p.get(n).addi(Nd4j.randn(DataType.DOUBLE, p.get(n).shape()).muli(0.3));
        }
        return p;
    }

    private static double loss(DecoderModel m, EffectiveWeights w, int[] targets) {
        return CrossEntropy.compute(m.logits(TOKENS, 2, 4, w), targets, false).loss();
    }

    private static void gradientCheck(ModelConfig cfg, EffectiveWeights weights, Map<String, INDArray> masks) {
        DecoderModel m = DecoderModel.of(randomParams(cfg, 3));
        int[] targets = DecoderModel.shiftedTargets(TOKENS, 2, 4);
        Parameters grads = m.parameters().zerosLike();
        m.lossAndGradients(TOKENS, targets, 2, 4, weights, grads);
        for (String name : m.parameters().names()) {
            INDArray w = m.parameters().get(name);
            INDArray g = grads.get(name);
            if (masks.containsKey(name)) {
                g = g.mul(masks.get(name)); // dL/dW = dL/dW_eff ⊙ M for W_eff = W ⊙ M
            }
            for (long i = 0; i < w.length(); i++) {
                double orig = w.getDouble(i);
                w.putScalar(i, orig + H);
                double plus = loss(m, weights, targets);
                w.putScalar(i, orig - H);
                double minus = loss(m, weights, targets);
                w.putScalar(i, orig);
                double numeric = (plus - minus) / (2 * H);
                double analytic = g.getDouble(i);
                double diff = Math.abs(analytic - numeric);
                double err = diff / Math.max(Math.abs(analytic) + Math.abs(numeric), 1e-300);
                assertTrue(err < MAX_RELATIVE_ERROR || diff < MAX_ABSOLUTE_ERROR, cfg.modelType() + " " + name + "[" + i + "]: analytic " + analytic
                        + " numeric " + numeric + " relative error " + err);
            }
        }
    }

    /** Block 1's squared error against a random target, its gradients against central differences. */
    private static void blockGradientCheck(ModelConfig cfg) {
        DecoderModel dense = DecoderModel.of(randomParams(cfg, 4));
        Nd4j.getRandom().setSeed(6);
        INDArray x = Nd4j.randn(DataType.DOUBLE, 8, cfg.hiddenSize());
        INDArray target = Nd4j.randn(DataType.DOUBLE, 8, cfg.hiddenSize());
        Map<String, INDArray> block = new java.util.LinkedHashMap<>();
        cfg.layerTensors(1).keySet().forEach(n -> block.put(n, dense.parameters().get(n)));
        Parameters grads = Parameters.of(cfg, block).zerosLike();
        double sse = dense.blockSquaredError(1, x, target, 2, 4, EffectiveWeights.DENSE, grads);
        INDArray y = dense.forwardBlock(1, x, 2, 4, EffectiveWeights.DENSE, null);
        assertEquals(y.sub(target).norm2Number().doubleValue() * y.sub(target).norm2Number().doubleValue(), sse,
                1e-9 * sse);
        for (String name : block.keySet()) {
            INDArray w = dense.parameters().get(name);
            for (long i = 0; i < w.length(); i++) {
                double orig = w.getDouble(i);
                w.putScalar(i, orig + H);
                double plus = squaredError(dense, x, target);
                w.putScalar(i, orig - H);
                double minus = squaredError(dense, x, target);
                w.putScalar(i, orig);
                double numeric = (plus - minus) / (2 * H);
                double analytic = grads.get(name).getDouble(i);
                double diff = Math.abs(analytic - numeric);
                double err = diff / Math.max(Math.abs(analytic) + Math.abs(numeric), 1e-300);
                // the differences' rounding is about eps·|f|/H: a gradient that is exactly zero (the key bias: softmax
                // ignores a shift shared by a row) reads as ~1e-8 with a squared error in the hundreds
                assertTrue(err < MAX_RELATIVE_ERROR || diff < 1e-15 * sse / H, cfg.modelType() + " " + name + "["
                        + i + "]: analytic " + analytic + " numeric " + numeric + " relative error " + err);
            }
        }
        assertTrue(grads.get(cfg.prunableLinears(1).get(0) + ".weight").norm2Number().doubleValue() > 0);
    }

    private static double squaredError(DecoderModel m, INDArray x, INDArray target) {
        double n = m.forwardBlock(1, x, 2, 4, EffectiveWeights.DENSE, null).sub(target).norm2Number().doubleValue();
        return n * n;
    }

    @Test
    void blockSquaredErrorGradientsMatchFiniteDifferencesOnBothFamilies() {
        blockGradientCheck(MICRO_GPT2);
        blockGradientCheck(MICRO_LLAMA);
    }

    @Test
    void gpt2GradientsMatchFiniteDifferences() {
        gradientCheck(MICRO_GPT2, EffectiveWeights.DENSE, Map.of());
    }

    @Test
    void llamaWithGroupedQueriesGradientsMatchFiniteDifferences() {
        gradientCheck(MICRO_LLAMA, EffectiveWeights.DENSE, Map.of());
    }

    @Test
    void everyLlamaLayoutFamilyMatchesFiniteDifferences() {
        for (LlamaConfig cfg : new LlamaConfig[] {MICRO_MISTRAL, MICRO_QWEN2, MICRO_QWEN3, MICRO_LLAMA31}) {
            gradientCheck(cfg, EffectiveWeights.DENSE, Map.of());
            blockGradientCheck(cfg);
        }
    }

    @Test
    void optPreAndPostLayerNormWithProjectionsMatchFiniteDifferences() {
        for (OptConfig cfg : new OptConfig[] {MICRO_OPT, MICRO_OPT350}) {
            gradientCheck(cfg, EffectiveWeights.DENSE, Map.of());
            blockGradientCheck(cfg);
        }
    }

    @Test
    void slidingWindowHidesKeysOutsideItAndNothingWithin() {
        DecoderModel windowed = DecoderModel.of(randomParams(MICRO_MISTRAL, 4));
        LlamaConfig full = new LlamaConfig(LlamaConfig.Family.MISTRAL, 11, 8, 8, 12, 2, 4, 2, 2, 1e-6, 10000.0,
                Rope.Scaling.NONE, false, false, false, false, false, 0, 0);
        Map<String, INDArray> same = new java.util.LinkedHashMap<>();
        windowed.parameters().names().forEach(n -> same.put(n, windowed.parameters().get(n)));
        DecoderModel unwindowed = DecoderModel.of(Parameters.of(full, same));
        INDArray w = windowed.logits(new int[] {1, 2, 3, 4}, 1, 4, EffectiveWeights.DENSE);
        INDArray f = unwindowed.logits(new int[] {1, 2, 3, 4}, 1, 4, EffectiveWeights.DENSE);
        // positions 0 and 1 see at most 2 tokens: the window of 2 changes nothing there, and everything after
        assertArrayEquals(f.getRow(1).toDoubleVector(), w.getRow(1).toDoubleVector(), 1e-12);
        assertFalse(f.getRow(2).equalsWithEps(w.getRow(2), 1e-6));
        // with a window of 2, position 3 no longer depends on token 0 or 1 (through two layers: token 1 via 2)
        INDArray other = windowed.logits(new int[] {9, 2, 3, 4}, 1, 4, EffectiveWeights.DENSE);
        assertArrayEquals(w.getRow(3).toDoubleVector(), other.getRow(3).toDoubleVector(), 0.0,
                "token 0 is outside position 3's receptive field of 2 layers × window 2");
        assertFalse(w.getRow(1).equalsWithEps(other.getRow(1), 1e-9));
    }

    @Test
    void effectiveWeightGradientsUnderAMask() {
        Nd4j.getRandom().setSeed(5);
        String q = "model.layers.1.self_attn.q_proj.weight";
        String down = "model.layers.0.mlp.down_proj.weight";
        Map<String, INDArray> masks = Map.of(
                q, Nd4j.rand(DataType.DOUBLE, 8, 8).gt(0.5).castTo(DataType.DOUBLE),
                down, Nd4j.rand(DataType.DOUBLE, 8, 12).gt(0.5).castTo(DataType.DOUBLE));
        EffectiveWeights masked = (name, w) -> masks.containsKey(name) ? w.mul(masks.get(name)) : w;
        gradientCheck(MICRO_LLAMA, masked, masks);
    }

    @Test
    void laterTokensNeverChangeEarlierLogits() {
        for (ModelConfig cfg : new ModelConfig[] {MICRO_GPT2, MICRO_LLAMA, MICRO_MISTRAL, MICRO_QWEN2, MICRO_QWEN3,
                MICRO_LLAMA31, MICRO_OPT, MICRO_OPT350}) {
            DecoderModel m = DecoderModel.of(randomParams(cfg, 4));
            INDArray a = m.logits(new int[] {1, 2, 3, 4}, 1, 4, EffectiveWeights.DENSE);
            INDArray b = m.logits(new int[] {1, 2, 7, 0}, 1, 4, EffectiveWeights.DENSE);
            assertArrayEquals(a.getRow(0).toDoubleVector(), b.getRow(0).toDoubleVector(), 0.0, cfg.modelType());
            assertArrayEquals(a.getRow(1).toDoubleVector(), b.getRow(1).toDoubleVector(), 0.0, cfg.modelType());
            assertFalse(a.getRow(2).equalsWithEps(b.getRow(2), 1e-9), cfg.modelType());
        }
    }

    @Test
    void sameWeightsGiveTheSameLogitsFromF32ShardedAndBf16Files() throws Exception {
        Storage storage = HadoopStorage.withDefaults();
        for (ModelConfig cfg : new ModelConfig[] {MICRO_GPT2, MICRO_LLAMA}) {
            Parameters p = randomParams(cfg, 6).castTo(DataType.FLOAT);
            String f32 = tmp.resolve(cfg.modelType() + "-f32").toString();
            String sharded = tmp.resolve(cfg.modelType() + "-sharded").toString();
            String bf16 = tmp.resolve(cfg.modelType() + "-bf16").toString();
            HfCheckpointWriter.write(storage, f32, HfConfig.of(cfg, "float32"), p.toEntries(DType.F32), Map.of(), Map.of(), 0, false);
            HfCheckpointWriter.write(storage, sharded, HfConfig.of(cfg, "float32"), p.toEntries(DType.F32), Map.of(), Map.of(), 500, false);
            HfCheckpointWriter.write(storage, bf16, HfConfig.of(cfg, "bfloat16"), p.toEntries(DType.BF16), Map.of(), Map.of(), 0, false);
            INDArray reference = DecoderModel.of(p).logits(TOKENS, 2, 4, EffectiveWeights.DENSE);
            INDArray fromF32 = logitsOf(storage, f32);
            INDArray fromShards = logitsOf(storage, sharded);
            INDArray fromBf16 = logitsOf(storage, bf16);
            assertEquals(reference, fromF32, cfg.modelType() + ": F32 file");
            assertEquals(reference, fromShards, cfg.modelType() + ": sharded file");
            double maxDiff = Nd4j.math().abs(reference.sub(fromBf16)).maxNumber().doubleValue();
            double scale = Nd4j.math().abs(reference).maxNumber().doubleValue();
            assertTrue(maxDiff > 0 && maxDiff < 0.05 * scale, cfg.modelType() + ": BF16 within its rounding: " + maxDiff
                    + " of " + scale);
        }
    }

    private static INDArray logitsOf(Storage storage, String dir) throws Exception {
        try (HfCheckpoint c = HfCheckpoint.open(storage, dir)) {
            return DecoderModel.of(c.parameters(DataType.FLOAT)).logits(TOKENS, 2, 4, EffectiveWeights.DENSE);
        }
    }
}
