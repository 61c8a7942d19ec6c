package org.sparseft.train;

import org.sparseft.model.Parameters;

import java.io.Serializable;
import java.util.List;
import java.util.function.Function;

/**
 * The trained values after a step, wherever training keeps them: in this JVM, or cut into chunks of whole tensors
 * on the executors (sharded synchronisation). A method that derives state from them asks for {@link #perPart}
 * results when it can, so that only those results travel, and for {@link #all} only when it needs every value here.
 */
public interface TrainedValues {
    /** Every trained tensor, in this JVM (fetched from the executors when they hold them). */
    Parameters all();

    /**
     * {@code f} applied where the values live to each part of them: whole tensors, every tensor in exactly one part,
     * parts in parameter order. Results come back in part order.
     */
    <R extends Serializable> List<R> perPart(PartFunction<R> f);

    /** What {@link #perPart} runs on a part; it travels to the executors, hence serializable. */
    interface PartFunction<R> extends Function<Parameters, R>, Serializable {
    }

    /** Values held here: one part, the whole. */
    static TrainedValues local(Parameters values) {
        return new TrainedValues() {
            @Override
            public Parameters all() {
                return values;
            }

            @Override
            public <R extends Serializable> List<R> perPart(PartFunction<R> f) {
                return List.of(f.apply(values));
            }
        };
    }
}
