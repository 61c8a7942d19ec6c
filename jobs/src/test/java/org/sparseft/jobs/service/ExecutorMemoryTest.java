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
    void aForwardPassTakesAsManySequencesAsASixteenthOfTheExecutorHolds() {
        ModelConfig tiny = CheckpointShape.TINYLLAMA_1_1B.config();
        // per sequence of 512 tokens: 4·512·(2·32·512 + 3·5632 + 8·2048) bytes = 135.3 MB
        long perSequence = 4L * 512 * (2L * 32 * 512 + 3 * 5632 + 8 * 2048);
        assertEquals(1, ExecutorMemory.sequencesPerPass(2L << 30, tiny, 512, 8), "2 GiB: a sixteenth holds one");
        assertEquals(2, ExecutorMemory.sequencesPerPass(6L << 30, tiny, 512, 8));
        assertEquals(3, ExecutorMemory.sequencesPerPass(16 * 3 * perSequence, tiny, 512, 8));
        assertEquals(8, ExecutorMemory.sequencesPerPass(1L << 40, tiny, 512, 8), "never more than asked");
        assertEquals(1, ExecutorMemory.sequencesPerPass(1L << 20, tiny, 512, 8), "never fewer than one");
        assertEquals(8, ExecutorMemory.sequencesPerPass(2L << 30, tiny, 16, 8), "short sequences fit");
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
