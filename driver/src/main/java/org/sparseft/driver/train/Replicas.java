package org.sparseft.driver.train;

import org.apache.spark.broadcast.Broadcast;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.model.Workspaces;

/**
 * The model replica of an executor JVM in gradient-synchronised training: built from the step's broadcast values
 * once per JVM and version, then shared read-only by that JVM's concurrent tasks (each task accumulates its own
 * gradients). One slot: a new version or run replaces the old replica, so a long-lived executor holds one copy.
 */
final class Replicas {
    private static String key;
    private static DecoderModel model;

    private Replicas() {
    }

    static synchronized DecoderModel shared(String run, long version, ModelConfig config, Broadcast<float[]> values) {
        String k = run + "@" + version;
        if (!k.equals(key)) {
            model = null; // let the old copy go before the new one is made
            model = Workspaces.outside(() -> DecoderModel.of(Parameters.fromFlat(config, values.value())));
            key = k;
        }
        return model;
    }
}
