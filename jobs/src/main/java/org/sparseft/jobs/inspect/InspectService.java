package org.sparseft.jobs.inspect;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.safetensors.TensorInfo;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads what a Hugging Face checkpoint holds, one tensor at a time, on this machine (no Spark): the checkpoint is
 * checked against its config.json first, as every job that loads it does.
 */
public final class InspectService {
    private InspectService() {
    }

    /** Told of the checkpoint once it is open and checked, then of each tensor as it is read. */
    public interface Listener {
        /** The checkpoint was opened and checked against its config; its tensors follow. */
        default void opened(String model, ModelConfig config, List<String> files) {
        }

        /** One tensor has been read. */
        default void tensor(InspectResult.Tensor tensor) {
        }
    }

    /** The checkpoint at {@code model} (any Hadoop FS {@code storage} reaches). */
    public static InspectResult run(Storage storage, String model) throws IOException {
        return run(storage, model, new Listener() {
        });
    }

    /** As {@link #run(Storage, String)}, telling {@code listener} as it goes (a large checkpoint takes a while). */
    public static InspectResult run(Storage storage, String model, Listener listener) throws IOException {
        try (HfCheckpoint ckpt = HfCheckpoint.open(storage, model)) {
            ckpt.validateAgainstConfig();
            ModelConfig m = ckpt.model();
            List<String> files = ckpt.shardFiles();
            listener.opened(model, m, files);
            List<InspectResult.Tensor> tensors = new ArrayList<>();
            for (String name : ckpt.tensorNames()) {
                TensorInfo info = ckpt.info(name);
                boolean floatingPoint = info.dtype().readableAsFloat();
                long values = 0;
                long zeros = 0;
                String nm = null;
                if (floatingPoint) {
                    float[] v = ckpt.readFloats(name);
                    if (info.rank() == 2) {
                        nm = conformance(v, info.shape(), transposed(m, name));
                    }
                    for (float x : v) {
                        if (x == 0f) {
                            zeros++;
                        }
                    }
                    values = v.length;
                }
                InspectResult.Tensor t = new InspectResult.Tensor(name, info.dtype(),
                        Arrays.stream(info.shape()).boxed().toList(), floatingPoint, values, zeros, nm);
                tensors.add(t);
                listener.tensor(t);
            }
            return new InspectResult(model, m, files, tensors);
        }
    }

    /** Whether {@code name} is stored [in, out] (GPT-2's Conv1D), so that rows of the compute layout are columns. */
    private static boolean transposed(ModelConfig m, String name) {
        return Parameters.storedTransposed(m, HfCheckpoint.canonical(m, name));
    }

    /** "2:4" or "4:8" when every group of M consecutive inputs of every output row has at least N zeros, else null. */
    static String conformance(float[] values, long[] shape, boolean transposed) {
        INDArray w = Nd4j.create(values, shape, 'c');
        if (transposed) {
            w = w.transpose().dup('c');
        }
        INDArray zero = w.eq(0.0).castTo(DataType.FLOAT);
        for (int[] p : new int[][] {{2, 4}, {4, 8}}) {
            if (w.columns() % p[1] == 0
                    && zero.reshape('c', w.length() / p[1], p[1]).sum(1).minNumber().intValue() >= p[0]) {
                return p[0] + ":" + p[1];
            }
        }
        return null;
    }
}
