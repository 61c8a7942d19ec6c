package org.sparseft.pst;

import org.sparseft.model.DecoderModel;
import org.sparseft.model.ModelSource;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;
import org.sparseft.train.Objective;
import org.sparseft.train.TrainStep;

import java.util.List;

/**
 * PST as a training objective: the frozen model (from {@code base}, e.g. an executor's cached copy) computes with
 * M ⊙ W' at the step's scheduled sparsity, and its gradients with respect to those effective weights are mapped onto
 * U, V, A, B, R and C (docs/algorithms.md §7.4) linear by linear as the backward pass produces them. Only those
 * small tensors are trained and travel, and only they have gradient buffers.
 */
public record PstObjective(ModelSource base, PstOptions options, int totalSteps) implements Objective {
    @Override
    public double accumulate(Parameters trained, int step, List<int[]> microBatches, int batch, int seqLen,
                             Parameters grads) {
        DecoderModel model = base.get();
        PstModel.Step s = Workspaces.outside(() -> PstModel.prepare(model.parameters(), trained, options,
                options.sparsityAt(step, totalSteps)));
        try (PstModel.Step.Sink sink = s.sinkInto(grads)) {
            return TrainStep.accumulate(model, s.weights(), microBatches, batch, seqLen, sink, grads);
        }
    }
}
