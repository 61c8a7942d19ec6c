package org.sparseft.driver;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

import java.io.Serializable;
import java.util.Iterator;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * One Spark job whose per-partition results are consumed in partition-id order, as they arrive. Spark's own
 * {@code treeAggregate} combines partial results in whatever order tasks finish, so float sums differ in their last
 * bits from run to run (STACK.md); here a result that arrives early waits until every lower partition has been
 * consumed, which makes the combination order, and so every bit of the sum, independent of scheduling. Only the
 * results that arrived out of order are held at once.
 */
public final class OrderedJobs {
    private OrderedJobs() {
    }

    /** What a task computes from its partition. */
    @FunctionalInterface
    public interface PartitionTask<T, U> extends Serializable {
        U run(int partition, Iterator<T> data) throws Exception;
    }

    public static <T, U> void run(JavaRDD<T> rdd, PartitionTask<T, U> task, Consumer<U> inPartitionOrder) {
        int partitions = rdd.getNumPartitions();
        Ordering<U> ordering = new Ordering<>(inPartitionOrder);
        rdd.context().runJob(rdd.rdd(), new ProcessPartition<>(task), ordering,
                scala.reflect.ClassTag$.MODULE$.apply(Object.class));
        if (ordering.next != partitions) {
            throw new IllegalStateException("job ended with " + ordering.next + " of " + partitions
                    + " partition results consumed");
        }
    }

    private static final class ProcessPartition<T, U> extends AbstractFunction2<TaskContext, scala.collection.Iterator<T>, U>
            implements Serializable {
        private final PartitionTask<T, U> task;

        ProcessPartition(PartitionTask<T, U> task) {
            this.task = task;
        }

        @Override
        public U apply(TaskContext context, scala.collection.Iterator<T> data) {
            try {
                return task.run(context.partitionId(), scala.collection.JavaConverters.asJavaIterator(data));
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }
    }

    /** Called by Spark's scheduler thread once per partition, in completion order. */
    private static final class Ordering<U> extends AbstractFunction2<Object, U, BoxedUnit> {
        private final Consumer<U> consumer;
        private final TreeMap<Integer, U> pending = new TreeMap<>();
        private int next;

        Ordering(Consumer<U> consumer) {
            this.consumer = consumer;
        }

        @Override
        public BoxedUnit apply(Object index, U result) {
            pending.put((Integer) index, result);
            while (!pending.isEmpty() && pending.firstKey() == next) {
                consumer.accept(pending.pollFirstEntry().getValue());
                next++;
            }
            return BoxedUnit.UNIT;
        }
    }
}
