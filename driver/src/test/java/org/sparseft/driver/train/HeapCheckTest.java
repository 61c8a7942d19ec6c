package org.sparseft.driver.train;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;
import org.sparseft.InvalidSettingException;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HeapCheckTest {
    private static final long GPT2_SMALL = 124_439_808L;
    private static final long EIGHT_GB = 8L << 30;

    private static SparkConf executors(String memory, int cores) {
        return new SparkConf(false).set("spark.executor.memory", memory).set("spark.executor.cores",
                String.valueOf(cores));
    }

    @Test
    void averagingAGpt2SmallModelNeedsMoreThanAFourGigabyteHeapAndFitsEight() {
        // measured (docs/scaling.md): AST --sync average of this shape died of "Java heap space" at 4g, finished at 8g
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> DataParallelTrainer
                .checkHeaps(false, executors("4g", 1), EIGHT_GB, GPT2_SMALL, GPT2_SMALL, DataParallelTrainer.Sync.AVERAGE));
        assertTrue(e.template().contains("4.17 GiB") && e.template().contains("spark.executor.memory 4.00 GiB")
                && e.template().contains("{sync} grad or sharded"), e.template());
        assertDoesNotThrow(() -> DataParallelTrainer.checkHeaps(false, executors("8g", 1), EIGHT_GB, GPT2_SMALL, GPT2_SMALL,
                DataParallelTrainer.Sync.AVERAGE));
        assertDoesNotThrow(() -> DataParallelTrainer.checkHeaps(false, executors("4g", 1), EIGHT_GB, GPT2_SMALL, GPT2_SMALL,
                DataParallelTrainer.Sync.GRAD));
    }

    @Test
    void concurrentTasksPerExecutorMultiplyTheNeedAndShardedOrLocalRunsAreNotChecked() {
        assertDoesNotThrow(() -> DataParallelTrainer.checkHeaps(false, executors("2g", 1), EIGHT_GB, GPT2_SMALL, GPT2_SMALL,
                DataParallelTrainer.Sync.GRAD));
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> DataParallelTrainer
                .checkHeaps(false, executors("2g", 2), EIGHT_GB, GPT2_SMALL, GPT2_SMALL, DataParallelTrainer.Sync.GRAD));
        assertTrue(e.template().contains("and 2 run at once"), e.template());
        assertDoesNotThrow(() -> DataParallelTrainer.checkHeaps(false, executors("2g", 2).set(
                "spark.task.cpus", "2"), EIGHT_GB, GPT2_SMALL, GPT2_SMALL, DataParallelTrainer.Sync.GRAD));
        assertDoesNotThrow(() -> DataParallelTrainer.checkHeaps(false, executors("1g", 4), EIGHT_GB, GPT2_SMALL,
                GPT2_SMALL / 32, DataParallelTrainer.Sync.SHARDED));
        assertDoesNotThrow(() -> DataParallelTrainer.checkHeaps(true, executors("1g", 4), EIGHT_GB, GPT2_SMALL, GPT2_SMALL,
                DataParallelTrainer.Sync.AVERAGE));
    }

    @Test
    void shardedExecutorsHoldTheirChunkStateTwiceWithItsGradient() {
        // measured: sharded AST of this shape on one partition (the whole model one chunk) failed in a 4 GB executor
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> DataParallelTrainer
                .checkHeaps(false, executors("4g", 1), EIGHT_GB, GPT2_SMALL, GPT2_SMALL,
                        DataParallelTrainer.Sync.SHARDED));
        assertTrue(e.template().contains("values in the largest chunk x 32 bytes")
                && e.template().contains("more {partitions}"), e.template());
        assertDoesNotThrow(() -> DataParallelTrainer.checkHeaps(false, executors("4g", 1), EIGHT_GB, GPT2_SMALL,
                GPT2_SMALL / 2, DataParallelTrainer.Sync.SHARDED));
        assertThrows(InvalidSettingException.class, () -> DataParallelTrainer.checkHeaps(true, new SparkConf(false),
                3L << 30, GPT2_SMALL, GPT2_SMALL / 4, DataParallelTrainer.Sync.SHARDED), "local: every chunk");
    }

    @Test
    void theDriverNeedsTheSameForOneExchangeInLocalModeToo() {
        // measured: averaging this shape ran a 4 GB driver out of heap receiving a result
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> DataParallelTrainer
                .checkHeaps(true, new SparkConf(false), 4L << 30, GPT2_SMALL, GPT2_SMALL, DataParallelTrainer.Sync.AVERAGE));
        assertTrue(e.template().contains("the driver holds at least 4.17 GiB")
                && e.template().contains("SPARSEFT_DRIVER_MEMORY"), e.template());
        assertDoesNotThrow(() -> DataParallelTrainer.checkHeaps(true, new SparkConf(false), 4L << 30, GPT2_SMALL, GPT2_SMALL,
                DataParallelTrainer.Sync.GRAD));
        assertThrows(InvalidSettingException.class, () -> DataParallelTrainer.checkHeaps(false,
                executors("16g", 1), 1L << 30, GPT2_SMALL, GPT2_SMALL, DataParallelTrainer.Sync.GRAD));
    }
}
