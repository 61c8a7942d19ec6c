package org.sparseft.driver.exec;

import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.model.DecoderModel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Models loaded inside executors by checkpoint path, once per JVM: tasks receive a path and the checkpoint's
 * content hash ({@link HfCheckpoint#contentHash()}, computed on the driver), not the weights. The cache is keyed by
 * both, so a checkpoint rewritten at the same path is loaded afresh, and holds one model per path. A model is
 * read-only once loaded, so tasks of one executor share it.
 */
public final class ExecutorModels {
    private record Loaded(String contentHash, DecoderModel model) {
    }

    private static final Map<String, Loaded> MODELS = new ConcurrentHashMap<>();

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
}
