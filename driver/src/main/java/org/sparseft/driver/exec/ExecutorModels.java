package org.sparseft.driver.exec;

import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.Parameters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Models loaded inside executors by checkpoint path, once per JVM: tasks receive a path and the checkpoint's
 * content hash ({@link HfCheckpoint#contentHash()}, computed on the driver), not the weights. The cache is keyed by
 * both, so a checkpoint rewritten at the same path is loaded afresh, and holds one model per path. A model is
 * read-only once loaded, so tasks of one executor share it.
 *
 * <p>Layer-by-layer passes ask for one part at a time instead ({@link #part}): the embedding or one block, dense or
 * as pruning left it. An executor keeps the two parts used last (a pass reads block l − 1 as pruned and block l
 * dense), so its memory is about two blocks whatever the model's depth.
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

    private static final Map<String, Loaded> MODELS = new ConcurrentHashMap<>();
    /** The parts used last, least recently used first. */
    private static final LinkedHashMap<Part, DecoderModel> PARTS = new LinkedHashMap<>(4, 0.75f, true);

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
     */
    public static synchronized DecoderModel part(String path, String contentHash, int part, String prunedDir,
                                                 Pruning pruned) {
        Part key = new Part(path, contentHash, part, prunedDir);
        DecoderModel cached = PARTS.get(key);
        if (cached != null) {
            return cached;
        }
        DecoderModel model;
        try {
            if (prunedDir != null) {
                Parameters dense = part(path, contentHash, part, null, pruned).parameters();
                model = DecoderModel.of(pruned.apply(prunedDir, part, dense));
            } else {
                try (HfCheckpoint c = HfCheckpoint.open(ExecutorStorage.get(), path)) {
                    model = DecoderModel.of(part == EMBEDDING ? c.embedding(DataType.FLOAT)
                            : part == HEAD ? c.head(DataType.FLOAT) : c.block(part, DataType.FLOAT));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("loading " + (part == EMBEDDING ? "the embedding"
                    : part == HEAD ? "the LM head" : "block " + part)
                    + " of " + path + ": " + e.getMessage(), e);
        }
        PARTS.put(key, model);
        while (PARTS.size() > PARTS_KEPT) {
            PARTS.remove(PARTS.keySet().iterator().next());
        }
        return model;
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
     * Drops every cached part of this JVM (their memory is freed once no task uses them): the driver calls it when a
     * layer-by-layer pass ends, which in local mode frees the executors' parts too; a cluster's executors keep their
     * last two parts until the next pass replaces them or the application ends.
     */
    public static synchronized void releaseParts() {
        PARTS.clear();
    }
}
