package org.sparseft.jobs.bench;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;


/**
 * Speed of the engine against the machine's own ceiling: float32 GEMM GFLOP/s into a preallocated buffer, then a
 * model's forward and forward+backward tokens/s, model FLOP utilisation (6·parameters·tokens per training step,
 * 2·parameters·tokens per forward, over the measured GEMM peak) and the peak resident memory of the process.
 */
public final class EngineBenchmark {
    private EngineBenchmark() {
    }

    public record Gemm(int m, int k, int n, double gflops) {
    }

    public record ModelRun(String name, long parameters, int batch, int seqLen, double forwardTokensPerSecond,
                           double trainTokensPerSecond, double forwardMfu, double trainMfu, long peakResidentBytes) {
    }

    /** Best of {@code reps} timed calls of out = x·wᵀ, x [m, k], w [n, k]. */
    public static Gemm gemm(int m, int k, int n, int reps) {
        INDArray x = Nd4j.rand(DataType.FLOAT, m, k);
        INDArray w = Nd4j.rand(DataType.FLOAT, n, k);
        INDArray out = Nd4j.create(DataType.FLOAT, m, n);
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps + 2; i++) {
            long t0 = System.nanoTime();
            Nd4j.gemm(x, w, out, false, true, 1.0, 0.0);
            double s = (System.nanoTime() - t0) / 1e9;
            if (i >= 2) {
                best = Math.min(best, s);
            }
        }
        return new Gemm(m, k, n, 2.0 * m * k * n / best / 1e9);
    }

    /**
     * {@code warmup} untimed calls of each pass (at least one: the workspaces learn their sizes; more let the JIT
     * compile the kernels, as it has in a training run's steady state), then the median of {@code reps} timed calls.
     */
    public static ModelRun model(String name, ModelConfig config, int batch, int seqLen, int warmup, int reps,
                                 double peakGflops) {
        Parameters p = Parameters.initialize(config, 1, DataType.FLOAT);
        DecoderModel m = DecoderModel.of(p);
        int[] tokens = BenchRuns.randomTokens(config.vocabSize(), batch * seqLen);
        int[] targets = DecoderModel.shiftedTargets(tokens, batch, seqLen);
        Parameters grads = p.zerosLike();
        Runnable forwardPass = () -> Workspaces.inStep("bench-forward",
                () -> m.logits(tokens, batch, seqLen, EffectiveWeights.DENSE));
        Runnable trainPass = () -> Workspaces.inStep("bench-train",
                () -> m.lossAndGradients(tokens, targets, batch, seqLen, EffectiveWeights.DENSE, grads));
        for (int i = 0; i < Math.max(1, warmup); i++) {
            forwardPass.run();
            trainPass.run();
        }
        PeakMemory peak = new PeakMemory();
        double forward = BenchRuns.medianSeconds(forwardPass, reps);
        double train = BenchRuns.medianSeconds(trainPass, reps);
        peak.close();
        long n = p.count() - config.maxPositions() * (long) config.hiddenSize() * (config instanceof
                org.sparseft.model.Gpt2Config ? 1 : 0); // position table: looked up, not multiplied
        double tokensPerStep = batch * (double) seqLen;
        return new ModelRun(name, p.count(), batch, seqLen, tokensPerStep / forward, tokensPerStep / train,
                2.0 * n * tokensPerStep / forward / 1e9 / peakGflops, 6.0 * n * tokensPerStep / train / 1e9 / peakGflops,
                peak.bytes());
    }
}
