package org.sparseft.driver.exec;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.train.PartialGradient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Results consumed in partition order whatever order the tasks finish in, the early ones waiting on the driver's
 * disk rather than in its memory. Partition 0 is made to finish last: its task (in this JVM, local mode) waits until
 * the scheduler has reported every other task finished.
 */
class OrderedJobsTest {
    private static final int P = 4;
    private static final int VALUES = 100_000;
    private static volatile CountDownLatch othersFinished;

    @TempDir
    static Path localDir;
    static SparkSession spark;
    static JavaSparkContext jsc;

    @BeforeAll
    static void start() {
        spark = SparkSessions.create("ordered-jobs-test", "local[2]", Map.of("spark.local.dir", localDir.toString()));
        jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        jsc.sc().addSparkListener(new SparkListener() {
            @Override
            public void onTaskEnd(SparkListenerTaskEnd end) {
                if (end.taskInfo().index() != 0 && end.taskInfo().successful()) {
                    othersFinished.countDown();
                }
            }
        });
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** A gradient-sized result per partition, each filled with its own value; partition 0 finishes last. */
    private static OrderedJobs.Waited runLastFirst(java.util.function.Consumer<PartialGradient> consumer) {
        othersFinished = new CountDownLatch(P - 1);
        JavaRDD<Integer> rdd = jsc.parallelize(List.of(0, 1, 2, 3), P);
        return OrderedJobs.run(rdd, (partition, data) -> {
            if (partition == 0 && !othersFinished.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the other partitions did not finish within 60 s");
            }
            float[] gradient = new float[VALUES];
            Arrays.fill(gradient, partition + 0.5f);
            return new PartialGradient(partition, 1, partition, 0, gradient);
        }, consumer);
    }

    private static List<Path> waitingDirectories() throws IOException {
        try (Stream<Path> files = Files.list(localDir)) {
            return files.filter(f -> f.getFileName().toString().startsWith("sparseft-waiting-")).toList();
        }
    }

    @Test
    void resultsThatFinishEarlyWaitOnDiskAndAreConsumedInPartitionOrder() throws IOException {
        List<PartialGradient> seen = new ArrayList<>();
        OrderedJobs.Waited waited = runLastFirst(seen::add);
        assertEquals(List.of(0, 1, 2, 3), seen.stream().map(PartialGradient::partition).toList());
        for (PartialGradient g : seen) {
            assertEquals(VALUES, g.gradient().length);
            assertEquals(g.partition() + 0.5f, g.gradient()[0]);
            assertEquals(g.partition() + 0.5f, g.gradient()[VALUES - 1], "read back whole from disk");
        }
        assertEquals(P - 1, waited.results(), "partitions 1-3 finished before 0, so all three waited on disk");
        assertTrue(waited.bytes() >= (P - 1) * 4L * VALUES, waited.toString());
        assertEquals(List.of(), waitingDirectories(), "the waiting files are removed after the job");
    }

    @Test
    void aFailingConsumerFailsTheJobAndLeavesNoWaitingFiles() throws IOException {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> runLastFirst(g -> {
            throw new IllegalStateException("consumer failed on partition " + g.partition());
        }));
        assertEquals("consumer failed on partition 0", e.getMessage(), "the consumer's own exception, unwrapped");
        assertEquals(List.of(), waitingDirectories());
    }
}
