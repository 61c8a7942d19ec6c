package org.sparseft.train;

import org.sparseft.RuntimeFailure;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.Gradients;
import org.sparseft.model.LogitsLoss;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;

import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * One optimizer step of dense training, in two halves so that they can run in different JVMs: {@link #accumulate}
 * (gradients over micro-batches, where the data is) and {@link #update} (non-finite check, clipping, AdamW, where
 * the optimizer state is). {@link #run} does both in one JVM.
 */
public final class TrainStep {
    public record Result(double loss, double gradNorm, double learningRate) {
    }

    private TrainStep() {
    }

    /**
     * @param microBatches each [batch·seqLen] token ids, sequences row after row
     * @param step 0-based step, for the schedule
     */
    public static Result run(DecoderModel model, AdamW optimizer, LearningRateSchedule schedule, int step,
                             List<int[]> microBatches, int batch, int seqLen, double maxGradNorm) {
        Parameters grads = Workspaces.outside(model.parameters()::zerosLike);
        double loss = accumulate(model, microBatches, batch, seqLen, grads);
        return update(model.parameters(), grads, loss, optimizer, schedule, step, maxGradNorm);
    }

    /**
     * Adds the mean gradient over the micro-batches (each of {@code batch} sequences) into {@code grads}, which
     * must hold zeros, and returns the mean loss.
     */
    public static double accumulate(DecoderModel model, List<int[]> microBatches, int batch, int seqLen,
                                    Parameters grads) {
        return accumulate(model, EffectiveWeights.DENSE, microBatches, batch, seqLen, grads);
    }

    /**
     * As {@link #accumulate(DecoderModel, List, int, int, Parameters)}, computing with {@code weights} (a sparse
     * method's effective weights); prunable weights' gradients are then with respect to the effective weights.
     */
    public static double accumulate(DecoderModel model, EffectiveWeights weights, List<int[]> microBatches, int batch,
                                    int seqLen, Parameters grads) {
        return accumulate(model, weights, microBatches, batch, seqLen, grads, grads);
    }

    /**
     * As {@link #accumulate(DecoderModel, EffectiveWeights, List, int, int, Parameters)} with each micro-batch's own
     * loss ({@code lossOf} runs inside the pass's workspace, so a teacher's forward there is released with it).
     */
    public static double accumulate(DecoderModel model, EffectiveWeights weights, List<int[]> microBatches, int batch,
                                    int seqLen, Parameters grads, Function<int[], LogitsLoss> lossOf) {
        return accumulate(model, weights, microBatches, batch, seqLen, grads, grads, lossOf);
    }

    /**
     * As {@link #accumulate(DecoderModel, EffectiveWeights, List, int, int, Parameters)} with the passes' gradients
     * going to {@code sink}, which sums them, mapped as it sees fit, into {@code grads} (PST maps each linear's
     * gradient onto its small tensors).
     */
    public static double accumulate(DecoderModel model, EffectiveWeights weights, List<int[]> microBatches, int batch,
                                    int seqLen, Gradients sink, Parameters grads) {
        return accumulate(model, weights, microBatches, batch, seqLen, sink, grads,
                tokens -> LogitsLoss.crossEntropy(DecoderModel.shiftedTargets(tokens, batch, seqLen)));
    }

    private static double accumulate(DecoderModel model, EffectiveWeights weights, List<int[]> microBatches,
                                     int batch, int seqLen, Gradients sink, Parameters grads,
                                     Function<int[], LogitsLoss> lossOf) {
        double loss = 0;
        for (int[] tokens : microBatches) {
            loss += Workspaces.inStep("train-step", () -> model.lossAndGradients(tokens, batch, seqLen, weights,
                    sink, lossOf.apply(tokens)));
        }
        int k = microBatches.size();
        if (k > 1) {
            for (String n : grads.names()) {
                grads.get(n).divi(k);
            }
        }
        return loss / k;
    }

    /**
     * Refuses a non-finite loss or gradient (naming the step), clips by global norm, and applies AdamW at the
     * scheduled learning rate.
     */
    public static Result update(Parameters params, Parameters grads, double loss, AdamW optimizer,
                                LearningRateSchedule schedule, int step, double maxGradNorm) {
        return update(params, grads, loss, optimizer, schedule, step, maxGradNorm, Objective.DENSE);
    }

    /**
     * As {@link #update(Parameters, Parameters, double, AdamW, LearningRateSchedule, int, double)}, adding the
     * objective's regularisation gradient after clipping: a decay term is a fixed pull, not part of the loss's
     * gradient, so neither its size nor the reported norm depends on the other.
     */
    public static Result update(Parameters params, Parameters grads, double loss, AdamW optimizer,
                                LearningRateSchedule schedule, int step, double maxGradNorm, Objective objective) {
        Set<String> names = params.names();
        double norm = AdamW.clipGlobalNorm(grads, names, maxGradNorm);
        if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
            throw new RuntimeFailure("step " + (step + 1) + ": non-finite " + (Double.isFinite(loss)
                    ? "gradient norm" : "loss") + " (loss " + loss + ", gradient norm " + norm + ")");
        }
        double lr = schedule.at(step);
        objective.regularise(params, grads, step); // both keep their temporaries in workspaces of their own
        optimizer.step(params, grads, names, lr);
        return new Result(loss, norm, lr);
    }
}
