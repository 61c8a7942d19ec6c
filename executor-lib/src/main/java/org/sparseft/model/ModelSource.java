package org.sparseft.model;

import java.io.Serializable;
import java.util.function.Supplier;

/**
 * Where a frozen model comes from in the JVM that needs it (an executor's cached copy of a checkpoint): tasks
 * carry the source, not the weights.
 */
@FunctionalInterface
public interface ModelSource extends Supplier<DecoderModel>, Serializable {
}
