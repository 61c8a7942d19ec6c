package org.sparseft.driver.exec;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.Parameters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Models loaded inside executors by checkpoint path, once per JVM: tasks receive a path and the checkpoint's
 * content hash ({@link HfCheckpoint#contentHash()}, computed on the driver), not the weights. The cache is keyed by
 * both, so a checkpoint rewritten at the same path is loaded afresh, and holds one model per path. A model is
 * read-only once loaded, so tasks of one executor share it.
 *
 * <p>Layer-by-layer passes ask for one part at a time instead ({@link #part}): the embedding or one block, dense or
 * as pruning left it, leased for the task's duration. An executor keeps the two parts used last (a pass reads block
 * l − 1 as pruned and block l dense) and frees a part it drops once no task holds a lease on it, so its memory is a
 * few blocks whatever the model's depth.
 */
public final class ExecutorModels {
    /** The part of {@link #part} that turns token ids into block 0's input. */
    public static final int EMBEDDING = -1;
    /** The part of {@link #part} that turns the last block's output into logits. */
    public static final int HEAD = -2;
    private static final int PARTS_KEPT = 2;

    private record Loaded(String contentHash, DecoderModel model) {
    }

    /** A part: the embedding or a block, dense ({@code prunedDir} null) or with the decisions in that directory. */
    private record Part(String path, String contentHash, int part, String prunedDir) {
    }

    /**
     * A loaded part and who uses it. Its tensors are freed as soon as it has left the cache and its last task has let
     * go, not at some later garbage collection: a 7B block is 0.8 GB in float32 and a pass replaces two per block, so
     * waiting for a collection let a prune's resident memory grow by about that much per block.
     */
    private static final class Entry {
        final DecoderModel model;
        int users;
        boolean cached = true;

        Entry(DecoderModel model) {
            this.model = model;
        }

        /** Called with the class's lock held. */
        void freeIfUnused() {
            if (!cached && users == 0) {
                model.parameters().release();
            }
        }
    }

    /** A task's use of one part; close it when the task no longer computes with the part. */
    public static final class Lease implements AutoCloseable {
        private final Entry entry;
        private boolean closed;

        private Lease(Entry entry) {
            this.entry = entry;
            entry.users++;
        }

        public DecoderModel model() {
            return entry.model;
        }

        @Override
        public void close() {
            synchronized (ExecutorModels.class) {
                if (!closed) {
                    closed = true;
                    entry.users--;
                    entry.freeIfUnused();
                }
            }
        }
    }

    private static final Map<String, Loaded> MODELS = new ConcurrentHashMap<>();
    /** The parts used last, least recently used first. */
    private static final LinkedHashMap<Part, Entry> PARTS = new LinkedHashMap<>(4, 0.75f, true);

    private ExecutorModels() {
    }

    public static DecoderModel get(String path, String contentHash) {
        return MODELS.compute(path, (p, cached) -> {
            if (cached != null && cached.contentHash().equals(contentHash)) {
                return cached;
            }
            try (HfCheckpoint c = HfCheckpoint.open(ExecutorStorage.get(), p)) {
                return new Loaded(contentHash, DecoderModel.of(c.parameters(DataType.FLOAT)));
            } catch (IOException e) {
                throw new UncheckedIOException("loading model " + p + ": " + e.getMessage(), e);
            }
        }).model();
    }

    /**
     * One part of the checkpoint as a model that computes only with it: {@link #EMBEDDING} ({@code embedTokens}),
     * block {@code part} ({@code forwardBlock}) or {@link #HEAD} ({@code headLogits}), float32, read from the
     * checkpoint in its stored dtype.
     *
     * @param prunedDir a {@code PrunedBlocks} directory whose decisions for the block apply, or null for the dense
     *                  block
     * @param pruned how a dense block and that directory make the pruned block
     * @return the part, leased: close the lease when the task is done with the model
     */
    public static synchronized Lease part(String path, String contentHash, int part, String prunedDir,
                                          Pruning pruned) {
        Part key = new Part(path, contentHash, part, prunedDir);
        Entry cached = PARTS.get(key);
        if (cached != null) {
            return new Lease(cached);
        }
        Entry entry;
        try {
            if (prunedDir != null) {
                try (Lease dense = part(path, contentHash, part, null, pruned)) {
                    entry = new Entry(DecoderModel.of(ownCopy(pruned.apply(prunedDir, part,
                            dense.model().parameters()), dense.model().parameters())));
                }
            } else {
                try (HfCheckpoint c = HfCheckpoint.open(ExecutorStorage.get(), path)) {
                    entry = new Entry(DecoderModel.of(part == EMBEDDING ? c.embedding(DataType.FLOAT)
                            : part == HEAD ? c.head(DataType.FLOAT) : c.block(part, DataType.FLOAT)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("loading " + (part == EMBEDDING ? "the embedding"
                    : part == HEAD ? "the LM head" : "block " + part)
                    + " of " + path + ": " + e.getMessage(), e);
        }
        Lease lease = new Lease(entry);
        PARTS.put(key, entry);
        while (PARTS.size() > PARTS_KEPT) {
            Part eldest = PARTS.keySet().iterator().next();
            evict(PARTS.remove(eldest));
        }
        return lease;
    }

    /**
     * {@code pruned} with copies of the tensors it shares with {@code dense} (norms and biases, and weights left
     * dense), so that the dense part can be freed when it leaves the cache: the two block-sized parts an executor
     * keeps are then block l − 1 pruned and block l dense, not also block l − 1 dense.
     */
    private static Parameters ownCopy(Parameters pruned, Parameters dense) {
        Map<String, INDArray> copies = new LinkedHashMap<>();
        for (String n : pruned.names()) {
            if (dense.names().contains(n) && pruned.get(n) == dense.get(n)) {
                copies.put(n, pruned.get(n).dup('c'));
            }
        }
        return pruned.with(copies);
    }

    private static void evict(Entry e) {
        e.cached = false;
        e.freeIfUnused();
    }

    /** Makes a pruned block from its dense tensors and the decisions in a directory. */
    @FunctionalInterface
    public interface Pruning {
        Parameters apply(String prunedDir, int block, Parameters dense) throws IOException;

        /** For dense parts only. */
        Pruning NONE = (dir, block, dense) -> {
            throw new IllegalStateException("no decisions to apply");
        };
    }

    /**
     * Drops every cached part of this JVM, each freed once no task holds a lease on it: the driver calls it when a
     * layer-by-layer pass ends, which in local mode frees the executors' parts too; a cluster's executors keep their
     * last two parts until the next pass replaces them or the application ends.
     */
    public static synchronized void releaseParts() {
        List<Entry> all = new ArrayList<>(PARTS.values());
        PARTS.clear();
        all.forEach(ExecutorModels::evict);
    }
}
