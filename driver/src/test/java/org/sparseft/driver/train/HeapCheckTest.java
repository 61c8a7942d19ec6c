package org.sparseft.driver.train;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;
import org.sparseft.InvalidSettingException;
import org.sparseft.driver.train.DataParallelTrainer.Sync;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HeapCheckTest {
    private static final long GPT2_SMALL = 124_439_808L;
    private static final long EIGHT_GB = 8L << 30;
    private static final SparkConf LOCAL = new SparkConf(false);

    private static SparkConf executors(String memory, int cores) {
        return new SparkConf(false).set("spark.executor.memory", memory).set("spark.executor.cores",
                String.valueOf(cores));
    }

    /** A cluster run of the GPT-2-small shape whose largest sharded chunk is {@code chunk} values. */
    private static void cluster(SparkConf conf, long driverHeap, long chunk, Sync sync) {
        DataParallelTrainer.checkHeaps(false, conf, driverHeap, GPT2_SMALL, chunk, sync);
    }

    private static String refused(Runnable check) {
        return assertThrows(InvalidSettingException.class, check::run).template();
    }

    @Test
    void averagingAGpt2SmallModelNeedsMoreThanAFourGigabyteHeap() {
        // measured (docs/scaling.md): AST --sync average of this shape died of "Java heap space" at 4g
        String m = refused(() -> cluster(executors("4g", 1), EIGHT_GB, GPT2_SMALL, Sync.AVERAGE));
        assertTrue(m.contains("4.17 GiB") && m.contains("spark.executor.memory 4.00 GiB")
                && m.contains("{sync} grad or sharded"), m);
        assertDoesNotThrow(() -> cluster(executors("8g", 1), EIGHT_GB, GPT2_SMALL, Sync.AVERAGE));
        assertDoesNotThrow(() -> cluster(executors("4g", 1), EIGHT_GB, GPT2_SMALL, Sync.GRAD));
    }

    @Test
    void concurrentTasksPerExecutorMultiplyTheNeedAndLocalExecutorsAreNotChecked() {
        assertDoesNotThrow(() -> cluster(executors("2g", 1), EIGHT_GB, GPT2_SMALL, Sync.GRAD));
        String m = refused(() -> cluster(executors("2g", 2), EIGHT_GB, GPT2_SMALL, Sync.GRAD));
        assertTrue(m.contains("and 2 run at once"), m);
        assertDoesNotThrow(() -> cluster(executors("2g", 2).set("spark.task.cpus", "2"), EIGHT_GB, GPT2_SMALL,
                Sync.GRAD));
        assertDoesNotThrow(() -> DataParallelTrainer.checkHeaps(true, executors("1g", 4), EIGHT_GB, GPT2_SMALL,
                GPT2_SMALL, Sync.AVERAGE));
    }

    @Test
    void shardedExecutorsHoldTheirChunkStateTwiceWithItsGradient() {
        // measured: sharded AST of this shape on one partition (the whole model one chunk) failed in a 4 GB executor
        String m = refused(() -> cluster(executors("4g", 1), EIGHT_GB, GPT2_SMALL, Sync.SHARDED));
        assertTrue(m.contains("values in the largest chunk x 32 bytes") && m.contains("more {partitions}"), m);
        assertDoesNotThrow(() -> cluster(executors("4g", 1), EIGHT_GB, GPT2_SMALL / 2, Sync.SHARDED));
        assertDoesNotThrow(() -> cluster(executors("1g", 4), EIGHT_GB, GPT2_SMALL / 32, Sync.SHARDED));
        assertThrows(InvalidSettingException.class, () -> DataParallelTrainer.checkHeaps(true, LOCAL, 3L << 30,
                GPT2_SMALL, GPT2_SMALL / 4, Sync.SHARDED), "local: the driver holds every chunk");
    }

    @Test
    void theDriverNeedsOneExchangeToo() {
        // measured: averaging this shape ran a 4 GB driver out of heap receiving a result
        String m = refused(() -> DataParallelTrainer.checkHeaps(true, LOCAL, 4L << 30, GPT2_SMALL, GPT2_SMALL,
                Sync.AVERAGE));
        assertTrue(m.contains("the driver holds at least 4.17 GiB") && m.contains("SPARSEFT_DRIVER_MEMORY"), m);
        assertDoesNotThrow(() -> DataParallelTrainer.checkHeaps(true, LOCAL, 4L << 30, GPT2_SMALL, GPT2_SMALL,
                Sync.GRAD));
        assertThrows(InvalidSettingException.class, () -> cluster(executors("16g", 1), 1L << 30, GPT2_SMALL,
                Sync.GRAD));
    }
}
