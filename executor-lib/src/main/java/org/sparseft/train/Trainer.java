package org.sparseft.train;

import org.sparseft.eval.Perplexity;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;

import java.util.List;

/**
 * Dense training in one JVM: batches of blocks in a seeded order (each epoch a new permutation from seed + epoch),
 * one {@link TrainStep} per batch, validation perplexity every {@code evalEvery} steps and at the end.
 */
public final class Trainer {
    public record Options(int steps, int batch, double peakLr, int warmupSteps, LearningRateSchedule.Decay decay,
                          double minLrRatio, AdamW.Options adam, double maxGradNorm, long seed, int evalEvery,
                          int evalWindows) {
        public Options {
            if (steps < 1 || batch < 1 || evalEvery < 0 || evalWindows < 1) {
                throw new IllegalArgumentException("steps, batch and eval windows must be positive");
            }
        }

        public LearningRateSchedule schedule() {
            return new LearningRateSchedule(peakLr, warmupSteps, steps, decay, minLrRatio);
        }
    }

    /** Progress as training goes. */
    public interface Listener {
        void onStep(int step, TrainStep.Result result, double tokensPerSecond);

        void onValidation(int step, Perplexity.Result result);
    }

    public record Summary(int steps, double finalLoss, Perplexity.Result validation, double seconds, long tokens) {
    }

    private Trainer() {
    }

    public static Summary run(DecoderModel model, List<int[]> train, List<int[]> validation, Options o,
                              Listener listener) {
        if (train.size() < o.batch()) {
            throw new IllegalArgumentException("only " + train.size() + " training blocks for a batch of " + o.batch());
        }
        int seqLen = train.get(0).length;
        AdamW optimizer = new AdamW(model.parameters(), o.adam());
        LearningRateSchedule schedule = o.schedule();
        ShardOrder order = new ShardOrder(train.size(), o.seed(), 0);
        long started = System.nanoTime();
        double loss = Double.NaN;
        Perplexity.Result val = null;
        for (int step = 0; step < o.steps(); step++) {
            int[] picked = order.take((long) step * o.batch(), o.batch());
            int[] tokens = new int[o.batch() * seqLen];
            for (int b = 0; b < o.batch(); b++) {
                System.arraycopy(train.get(picked[b]), 0, tokens, b * seqLen, seqLen);
            }
            long t0 = System.nanoTime();
            TrainStep.Result r = TrainStep.run(model, optimizer, schedule, step, List.of(tokens), o.batch(), seqLen,
                    o.maxGradNorm());
            loss = r.loss();
            listener.onStep(step, r, tokens.length / ((System.nanoTime() - t0) / 1e9));
            boolean last = step == o.steps() - 1;
            if (validation != null && !validation.isEmpty() && (last || (o.evalEvery() > 0 && (step + 1) % o.evalEvery() == 0))) {
                List<int[]> windows = validation.subList(0, Math.min(o.evalWindows(), validation.size()));
                val = Perplexity.of(Perplexity.windowNlls(model, windows, o.batch(), EffectiveWeights.DENSE), seqLen);
                listener.onValidation(step, val);
            }
        }
        return new Summary(o.steps(), loss, val, (System.nanoTime() - started) / 1e9,
                (long) o.steps() * o.batch() * seqLen);
    }
}
