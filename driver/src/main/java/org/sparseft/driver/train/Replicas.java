package org.sparseft.driver.train;

import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;

import java.util.function.Supplier;

/**
 * The trained tensors of an executor JVM in gradient-synchronised training: built from the step's values (a
 * broadcast, or the chunks of the sharded state) once per JVM and version, then shared read-only by that JVM's concurrent tasks (each task accumulates its own
 * gradients). One slot: a new version or run replaces the old copy, so a long-lived executor holds one.
 */
final class Replicas {
    private static String key;
    private static Parameters trained;

    private Replicas() {
    }

    static synchronized Parameters shared(String run, long version, Supplier<Parameters> build) {
        String k = run + "@" + version;
        if (!k.equals(key)) {
            trained = null; // let the old copy go before the new one is made
            trained = Workspaces.outside(build);
            key = k;
        }
        return trained;
    }
}
