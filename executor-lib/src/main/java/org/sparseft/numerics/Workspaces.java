package org.sparseft.numerics;

import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.factory.Nd4j;

import java.util.function.Supplier;

/**
 * ND4J workspaces for per-step work: every array a forward/backward pass creates lives in one memory region that the
 * next step reuses (its size learnt on the first step), instead of being allocated and freed by the operating
 * system each time. Arrays that outlive a step (parameters, gradients, optimizer state, caches) are created outside
 * ({@link #outside}); an array returned from a step must be {@code detach()}ed by the caller.
 */
public final class Workspaces {
    private static final WorkspaceConfiguration STEP = WorkspaceConfiguration.builder()
            .initialSize(0)
            .policyAllocation(AllocationPolicy.OVERALLOCATE)
            .overallocationLimit(0.1)
            .policyLearning(LearningPolicy.FIRST_LOOP)
            .policySpill(SpillPolicy.REALLOCATE)
            .build();

    private Workspaces() {
    }

    /** Runs one step's work in the named workspace of this thread. */
    public static <T> T inStep(String name, Supplier<T> work) {
        try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(STEP, name)) {
            return work.get();
        }
    }

    /** Creates something that must survive the current step (a cache, a gradient buffer). */
    public static <T> T outside(Supplier<T> work) {
        try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            return work.get();
        }
    }
}
