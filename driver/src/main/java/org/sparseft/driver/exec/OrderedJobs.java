package org.sparseft.driver.exec;

import org.apache.spark.SparkConf;
import org.apache.spark.SparkDriverExecutionException;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.serializer.DeserializationStream;
import org.apache.spark.serializer.SerializationStream;
import org.apache.spark.serializer.SerializerInstance;
import scala.reflect.ClassTag;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.Iterator;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * One Spark job whose per-partition results are consumed in partition-id order, as they arrive. Spark's own
 * {@code treeAggregate} combines partial results in whatever order tasks finish, so float sums differ in their last
 * bits from run to run (seen in one run of several); here a result that arrives early waits until every lower
 * partition has been consumed, which makes the combination order, and so every bit of the sum, independent of
 * scheduling.
 * <p>
 * A result that must wait is written to the driver's local disk ({@code spark.local.dir}, with the job's serializer)
 * and read back when its turn comes. This class so holds at most one partition result in memory at a time besides
 * what the consumer keeps (a running sum), however many partitions there are and whatever order they finish in.
 * (Spark itself may hold a few more for a moment as they pass: its result-getter threads deserialize results as
 * they come, {@code spark.resultGetter.threads}, 4 by default.)
 */
public final class OrderedJobs {
    private static final ClassTag<Object> ANY = scala.reflect.ClassTag$.MODULE$.apply(Object.class);

    private OrderedJobs() {
    }

    /** What a task computes from its partition. */
    @FunctionalInterface
    public interface PartitionTask<T, U> extends Serializable {
        U run(int partition, Iterator<T> data) throws Exception;
    }

    /** Results that arrived before their turn and waited on disk, and their serialized size. */
    public record Waited(int results, long bytes) {
    }

    public static <T, U> Waited run(JavaRDD<T> rdd, PartitionTask<T, U> task, Consumer<U> inPartitionOrder) {
        int partitions = rdd.getNumPartitions();
        Ordering<U> ordering = new Ordering<>(inPartitionOrder, spillRoot(rdd.context().getConf()));
        try {
            rdd.context().runJob(rdd.rdd(), new ProcessPartition<>(task), ordering, OrderedJobs.<U>anyTag());
        } catch (Exception e) {
            if (e instanceof SparkDriverExecutionException && e.getCause() instanceof RuntimeException own) {
                throw own; // the consumer's (or the spill's) own failure, here on the driver: not a task's
            }
            throw e;
        } finally {
            ordering.deleteSpills();
        }
        if (ordering.next != partitions) {
            throw new IllegalStateException("job ended with " + ordering.next + " of " + partitions
                    + " partition results consumed");
        }
        return new Waited(ordering.spilled, ordering.spilledBytes);
    }

    @SuppressWarnings("unchecked")
    private static <U> ClassTag<U> anyTag() {
        return (ClassTag<U>) (ClassTag<?>) ANY;
    }

    /** The first of the driver's local directories, as Spark's own scratch files use. */
    private static Path spillRoot(SparkConf conf) {
        String dirs = conf.get("spark.local.dir", System.getProperty("java.io.tmpdir"));
        return Paths.get(dirs.split(",")[0].trim());
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
        private final Path spillRoot;
        private final TreeMap<Integer, Path> waiting = new TreeMap<>();
        private volatile Path spillDir; // set on the scheduler's thread, deleted on the caller's
        private SerializerInstance serializer;
        private int next;
        private int spilled;
        private long spilledBytes;

        Ordering(Consumer<U> consumer, Path spillRoot) {
            this.consumer = consumer;
            this.spillRoot = spillRoot;
        }

        @Override
        public BoxedUnit apply(Object index, U result) {
            int partition = (Integer) index;
            try {
                if (partition != next) {
                    waiting.put(partition, spill(partition, result));
                    return BoxedUnit.UNIT;
                }
                consumer.accept(result);
                next++;
                while (!waiting.isEmpty() && waiting.firstKey() == next) {
                    consumer.accept(unspill(waiting.pollFirstEntry().getValue()));
                    next++;
                }
                return BoxedUnit.UNIT;
            } catch (IOException e) {
                throw new UncheckedIOException("partition " + partition + "'s result could not wait on the driver's"
                        + " local disk (" + spillRoot + ", spark.local.dir)", e);
            }
        }

        private Path spill(int partition, U result) throws IOException {
            if (spillDir == null) {
                Files.createDirectories(spillRoot);
                spillDir = Files.createTempDirectory(spillRoot, "sparseft-waiting-");
                serializer = SparkEnv.get().serializer().newInstance();
            }
            Path file = spillDir.resolve("partition-" + partition);
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
                SerializationStream s = serializer.serializeStream(out);
                s.writeObject(result, ANY);
                s.close();
            }
            spilled++;
            spilledBytes += Files.size(file);
            return file;
        }

        @SuppressWarnings("unchecked")
        private U unspill(Path file) throws IOException {
            U result;
            try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
                DeserializationStream s = serializer.deserializeStream(in);
                result = (U) s.readObject(ANY);
                s.close();
            }
            Files.delete(file);
            return result;
        }

        void deleteSpills() {
            if (spillDir == null) {
                return;
            }
            try (Stream<Path> files = Files.walk(spillDir)) {
                for (Path f : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                    Files.deleteIfExists(f);
                }
            } catch (IOException e) {
                spillDir.toFile().deleteOnExit(); // a scratch directory: worth a warning at most, never a failure
            }
        }
    }
}
