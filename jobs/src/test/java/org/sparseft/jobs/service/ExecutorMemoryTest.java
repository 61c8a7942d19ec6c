package org.sparseft.jobs.service;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;
import org.sparseft.BadInputException;
import org.sparseft.jobs.bench.CheckpointShape;
import org.sparseft.model.ModelConfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Whether a layer-by-layer pass fits an executor: the largest part, against the memory Spark reports. */
class ExecutorMemoryTest {
    @Test
    void theLargestPartIsTheEmbeddingABlockOrTheHeadInFloat32() {
        ModelConfig tiny = CheckpointShape.TINYLLAMA_1_1B.config();
        // block: q, o 2048²; k, v 2048·256; gate, up, down 2048·5632; two norms (44M); the embedding 32000·2048;
        // the untied head the same plus the final norm: the largest
        long block = 2L * 2048 * 2048 + 2L * 2048 * 256 + 3L * 2048 * 5632 + 2 * 2048;
        long head = 32000L * 2048 + 2048;
        assertTrue(head > block);
        assertEquals(4 * head, ExecutorMemory.largestPartBytes(tiny));
        ModelConfig llama7 = CheckpointShape.LLAMA_2_7B.config();
        long block7 = 4L * 4096 * 4096 + 3L * 4096 * 11008 + 2 * 4096;
        assertEquals(4 * block7, ExecutorMemory.largestPartBytes(llama7));
    }

    @Test
    void aModelWhoseTwoPartsExceedTheExecutorMemoryIsRefusedNamingTheSizesAndTheSetting() {
        SparkConf oneGig = new SparkConf().set("spark.executor.memory", "1g");
        ModelConfig llama7 = CheckpointShape.LLAMA_2_7B.config();
        BadInputException e = assertThrows(BadInputException.class,
                () -> ExecutorMemory.checkTwoPartsFit(false, oneGig, llama7, "hdfs:///models/llama-2-7b"));
        assertTrue(e.getMessage().contains("hdfs:///models/llama-2-7b: its largest part (a block, the embedding or"
                        + " the head) takes 772.0 MiB in float32"),
                e.getMessage());
        assertTrue(e.getMessage().contains("(1.51 GiB), more than the 1.00 GiB an executor has: raise"
                + " spark.executor.memory"), e.getMessage());
        ExecutorMemory.checkTwoPartsFit(false, new SparkConf().set("spark.executor.memory", "2g"), llama7, "m");
        ExecutorMemory.checkTwoPartsFit(false, oneGig, CheckpointShape.TINYLLAMA_1_1B.config(), "m");
        // local mode without the setting: the JVM's heap bounds it, and the message says so
        long heap = Runtime.getRuntime().maxMemory();
        if (2 * ExecutorMemory.largestPartBytes(llama7) > heap) {
            BadInputException local = assertThrows(BadInputException.class,
                    () -> ExecutorMemory.checkTwoPartsFit(true, new SparkConf(), llama7, "m"));
            assertTrue(local.getMessage().contains("SPARSEFT_DRIVER_MEMORY"), local.getMessage());
        }
    }
}
