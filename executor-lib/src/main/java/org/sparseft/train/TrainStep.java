package org.sparseft.train;

import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.Parameters;
import org.sparseft.model.Workspaces;

import java.util.List;
import java.util.Set;

/**
 * One optimizer step of dense training in one JVM: gradients accumulated over micro-batches (averaged), a non-finite
 * loss or gradient refused, clipping by global norm, then AdamW at the scheduled learning rate.
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
        Parameters params = model.parameters();
        Parameters grads = Workspaces.outside(params::zerosLike);
        double loss = 0;
        for (int[] tokens : microBatches) {
            loss += Workspaces.inStep("train-step", () -> model.lossAndGradients(tokens,
                    DecoderModel.shiftedTargets(tokens, batch, seqLen), batch, seqLen, EffectiveWeights.DENSE, grads)
                    .loss());
        }
        int k = microBatches.size();
        loss /= k;
        Set<String> names = params.names();
        if (k > 1) {
            for (String n : names) {
                grads.get(n).divi(k);
            }
        }
        double norm = AdamW.clipGlobalNorm(grads, names, maxGradNorm);
        if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
            throw new org.sparseft.RuntimeFailure("step " + step + ": non-finite " + (Double.isFinite(loss)
                    ? "gradient norm" : "loss") + " (loss " + loss + ", gradient norm " + norm + ")");
        }
        double lr = schedule.at(step);
        Workspaces.inStep("optimizer", () -> {
            optimizer.step(params, grads, names, lr);
            return null;
        });
        return new Result(loss, norm, lr);
    }
}
