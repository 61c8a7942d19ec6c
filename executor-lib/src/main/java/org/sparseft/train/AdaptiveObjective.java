package org.sparseft.train;

import org.sparseft.io.safetensors.SafetensorsFile;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.model.Parameters;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * The driver's side of an objective that changes as training goes from state it keeps beside the trained tensors
 * (AST's masks, re-selected every few steps): the trainer asks for the current {@link Objective} before each step
 * or averaging round, reports each completed stretch, and saves the state in every checkpoint so that a resumed run
 * continues exactly.
 */
public interface AdaptiveObjective {
    /** The objective the next step (or round) runs. */
    Objective current();

    /**
     * After the optimizer has taken the run from {@code stepsBefore} to {@code stepsDone} steps: updates the state
     * from the trained values and returns the figures to log for that step (e.g. mask flips), possibly none.
     * {@code trained} may be held elsewhere (on the executors), so it is consulted only when needed.
     */
    Map<String, Double> afterSteps(TrainedValues trained, int stepsBefore, int stepsDone);

    /** The state to checkpoint (tensors of a {@code method.safetensors}); empty when there is none. */
    List<SafetensorsWriter.Entry> checkpointed();

    /** Restores the state a checkpoint saved with {@link #checkpointed()}. */
    void restore(SafetensorsFile saved) throws IOException;

    /** An objective without state: the same every step. */
    static AdaptiveObjective fixed(Objective objective) {
        return new AdaptiveObjective() {
            @Override
            public Objective current() {
                return objective;
            }

            @Override
            public Map<String, Double> afterSteps(TrainedValues trained, int stepsBefore, int stepsDone) {
                return Map.of();
            }

            @Override
            public List<SafetensorsWriter.Entry> checkpointed() {
                return List.of();
            }

            @Override
            public void restore(SafetensorsFile saved) {
            }
        };
    }
}
