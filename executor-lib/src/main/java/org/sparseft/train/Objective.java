package org.sparseft.train;

import org.sparseft.model.DecoderModel;
import org.sparseft.model.Parameters;

import java.io.Serializable;
import java.util.List;

/**
 * What a training run optimises, as the JVM holding the data computes it: the dense model's own parameters, or a
 * sparse method's tensors over a frozen model. Tasks carry it to executors, hence serializable.
 */
public interface Objective extends Serializable {
    /**
     * Adds the mean gradient of the trained tensors over {@code microBatches} (each of {@code batch} sequences) into
     * {@code grads}, which holds zeros, and returns the mean loss.
     *
     * @param step the 0-based optimizer step (methods with schedules read it)
     */
    double accumulate(Parameters trained, int step, List<int[]> microBatches, int batch, int seqLen, Parameters grads);

    /**
     * Adds a regularisation term into {@code grads} (the clipped, aggregated loss gradient) before the optimizer
     * step {@code step} applies it, where the optimizer runs (AST's decay of pruned weights). None by default.
     */
    default void regularise(Parameters trained, Parameters grads, int step) {
    }

    /** Dense training: the trained tensors are the model. */
    Objective DENSE = new Dense();

    final class Dense implements Objective {
        @Override
        public double accumulate(Parameters trained, int step, List<int[]> microBatches, int batch, int seqLen,
                                 Parameters grads) {
            return TrainStep.accumulate(DecoderModel.of(trained), microBatches, batch, seqLen, grads);
        }

        private Object readResolve() {
            return DENSE; // one instance per JVM
        }
    }
}
