package org.sparseft.driver.train;

import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;

import java.util.function.Supplier;

/**
 * The trained tensors of an executor JVM in gradient-synchronised training: built from the step's values (a
 * broadcast, or the chunks of the sharded state) once per JVM and version, then shared read-only by that JVM's
 * concurrent tasks (each task accumulates its own gradients). One slot: a new version or run replaces the old copy,
 * whose off-heap memory is freed as soon as the last task using it lets go, not at some later garbage collection
 * (a replica is 4 bytes per parameter, and one goes out of use every step).
 */
final class Replicas {
    /** A task's use of one version's replica; close it when the task no longer reads the values. */
    static final class Lease implements AutoCloseable {
        private final Slot slot;
        private boolean closed;

        private Lease(Slot slot) {
            this.slot = slot;
        }

        Parameters trained() {
            return slot.trained;
        }

        @Override
        public void close() {
            synchronized (Replicas.class) {
                if (!closed) {
                    closed = true;
                    slot.users--;
                    slot.freeIfUnused();
                }
            }
        }
    }

    private static final class Slot {
        final String key;
        final Parameters trained;
        int users;
        boolean replaced;

        Slot(String key, Parameters trained) {
            this.key = key;
            this.trained = trained;
        }

        void freeIfUnused() {
            if (replaced && users == 0) {
                trained.release();
            }
        }
    }

    private static Slot current;

    private Replicas() {
    }

    static synchronized Lease acquire(String run, long version, Supplier<Parameters> build) {
        String k = run + "@" + version;
        if (current == null || !current.key.equals(k)) {
            if (current != null) { // let the old copy go before the new one is made
                current.replaced = true;
                current.freeIfUnused();
                current = null;
            }
            current = new Slot(k, Workspaces.outside(build));
        }
        current.users++;
        return new Lease(current);
    }
}
