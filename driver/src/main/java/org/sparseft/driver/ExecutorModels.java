package org.sparseft.driver;

import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.Parameters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Models loaded inside executors by checkpoint path, once per JVM: tasks receive a path, not the weights. A model is
 * read-only once loaded, so tasks of one executor share it.
 */
public final class ExecutorModels {
    private static final Map<String, DecoderModel> MODELS = new ConcurrentHashMap<>();

    private ExecutorModels() {
    }

    public static DecoderModel get(String path) {
        return MODELS.computeIfAbsent(path, p -> {
            try (HfCheckpoint c = HfCheckpoint.open(ExecutorStorage.get(), p)) {
                return DecoderModel.of(Parameters.load(c, DataType.FLOAT));
            } catch (IOException e) {
                throw new UncheckedIOException("loading model " + p + ": " + e.getMessage(), e);
            }
        });
    }
}
