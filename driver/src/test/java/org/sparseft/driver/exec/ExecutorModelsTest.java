package org.sparseft.driver.exec;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The part cache frees a part's memory when it has left the cache and its last lease is closed, and not before. */
class ExecutorModelsTest {
    private static final LlamaConfig TINY = LlamaConfig.of(32, 16, 16, 32, 3, 4, 2, true);
    private static final String Q = "model.layers.0.self_attn.q_proj.weight";
    private static final String NORM = "model.layers.0.input_layernorm.weight";
    /** Decisions that zero block 0's query projection and leave its other tensors as they are. */
    private static final ExecutorModels.Pruning ZERO_Q = (dir, block, dense) ->
            dense.with(Map.of(Q, dense.get(Q).mul(0)));

    @TempDir
    Path dir;

    @AfterEach
    void dropParts() {
        ExecutorModels.releaseParts();
    }

    private String[] checkpoint() throws IOException {
        Storage storage = HadoopStorage.withDefaults();
        String uri = dir.resolve("model").toUri().toString();
        Parameters p = Parameters.initialize(TINY, 3, DataType.FLOAT);
        HfCheckpointWriter.write(storage, uri, HfConfig.of(TINY, "float32"), p.toEntries(DType.F32), Map.of(),
                Map.of(), 0, false);
        try (HfCheckpoint c = HfCheckpoint.open(storage, uri)) {
            return new String[] {uri, c.contentHash()};
        }
    }

    private static ExecutorModels.Lease part(String[] c, int part) {
        return ExecutorModels.part(c[0], c[1], part, null, ExecutorModels.Pruning.NONE);
    }

    @Test
    void anEvictedPartIsFreedWhenItsLastLeaseCloses() throws IOException {
        String[] c = checkpoint();
        ExecutorModels.Lease held = part(c, 0);
        INDArray q = held.model().parameters().get(Q);
        try (ExecutorModels.Lease again = part(c, 0)) {
            assertSame(held.model(), again.model(), "a cached part is not loaded twice");
        }
        part(c, 1).close();
        part(c, 2).close(); // block 0 leaves the cache (two parts are kept) while a task still holds it
        assertFalse(q.wasClosed(), "a leased part stays usable after it leaves the cache");
        assertEquals(16 * 16, q.length());
        held.close();
        assertTrue(q.wasClosed(), "freed when the last lease closes");
    }

    @Test
    void aCachedPartIsFreedWhenEvictedOrReleased() throws IOException {
        String[] c = checkpoint();
        INDArray q;
        try (ExecutorModels.Lease l = part(c, 0)) {
            q = l.model().parameters().get(Q);
        }
        assertFalse(q.wasClosed(), "kept while cached");
        part(c, 1).close();
        part(c, 2).close();
        assertTrue(q.wasClosed(), "freed on eviction when no task holds it");
        INDArray last;
        try (ExecutorModels.Lease l = part(c, 2)) {
            last = l.model().parameters().get("model.layers.2.self_attn.q_proj.weight");
        }
        ExecutorModels.releaseParts();
        assertTrue(last.wasClosed(), "releaseParts frees the parts no task holds");
    }

    @Test
    void aPrunedPartOwnsItsTensorsSoItsDensePartCanBeFreedFirst() throws IOException {
        String[] c = checkpoint();
        ExecutorModels.Lease pruned = ExecutorModels.part(c[0], c[1], 0, "decisions", ZERO_Q);
        INDArray changed = pruned.model().parameters().get(Q);
        INDArray norm = pruned.model().parameters().get(NORM);
        INDArray denseQ;
        INDArray denseNorm;
        try (ExecutorModels.Lease dense = part(c, 0)) {
            denseQ = dense.model().parameters().get(Q);
            denseNorm = dense.model().parameters().get(NORM);
        }
        assertNotSame(denseNorm, norm, "unchanged tensors are copied");
        assertEquals(denseNorm, norm);
        part(c, 1).close();
        part(c, 2).close(); // both block-0 parts leave the cache
        assertTrue(denseQ.wasClosed() && denseNorm.wasClosed(), "the dense part is freed when no task holds it");
        assertFalse(changed.wasClosed() || norm.wasClosed(), "the leased pruned part is not");
        assertEquals(0.0, changed.sumNumber().doubleValue());
        pruned.close();
        assertTrue(changed.wasClosed() && norm.wasClosed(), "nor does it outlive its last lease");
    }
}
