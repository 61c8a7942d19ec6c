package org.sparseft.jobs;

import org.sparseft.io.HadoopStorage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.safetensors.TensorInfo;
import org.sparseft.model.ModelConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** {@code sparseft inspect}: what a Hugging Face checkpoint holds, tensor by tensor. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Print a Hugging Face checkpoint's architecture and, per tensor, dtype, shape, sparsity"
                + " (fraction of exact zeros) and, for matrices, the densest N:M pattern every row conforms to"
                + " (2:4, 4:8; groups of consecutive inputs of each output row). Reads one tensor at a time.")
public final class InspectCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model directory (any Hadoop FS URI).")
    String model;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter w = spec.commandLine().getOut();
        try (HfCheckpoint ckpt = HfCheckpoint.open(HadoopStorage.withDefaults(), model)) {
            ckpt.validateAgainstConfig();
            ModelConfig m = ckpt.model();
            w.printf("model       %s (%s), %d layers, hidden %d, %d heads, vocabulary %d, %,d parameters%n",
                    model, m.modelType(), m.numLayers(), m.hiddenSize(), m.numHeads(), m.vocabSize(), m.parameterCount());
            w.printf("files       %s%n", String.join(", ", ckpt.shardFiles()));
            w.printf("%-48s %-5s %-16s %9s  %s%n", "tensor", "dtype", "shape", "sparsity", "N:M");
            long zeros = 0;
            long total = 0;
            for (String name : ckpt.tensorNames()) {
                TensorInfo info = ckpt.info(name);
                String sparsity = "";
                String nm = "";
                if (info.dtype().readableAsFloat()) {
                    float[] v = ckpt.readFloats(name);
                    if (info.rank() == 2) {
                        nm = conformance(v, info.shape(), transposed(m, name));
                    }
                    long z = 0;
                    for (float x : v) {
                        if (x == 0f) {
                            z++;
                        }
                    }
                    zeros += z;
                    total += v.length;
                    sparsity = v.length == 0 ? "-" : String.format("%.4f", (double) z / v.length);
                }
                w.printf("%-48s %-5s %-16s %9s  %s%n", name, info.dtype(), info.shapeString(), sparsity, nm);
            }
            w.printf("overall sparsity %.4f over %,d floating-point values%n", total == 0 ? 0 : (double) zeros / total, total);
        }
        w.flush();
        return Main.OK;
    }

    /** Whether {@code name} is stored [in, out] (GPT-2's Conv1D), so that rows of the compute layout are columns. */
    private static boolean transposed(ModelConfig m, String name) {
        return org.sparseft.model.Parameters.storedTransposed(m, HfCheckpoint.canonical(m, name));
    }

    /** "2:4" or "4:8" when every group of M consecutive inputs of every output row has at least N zeros, else "-". */
    static String conformance(float[] values, long[] shape, boolean transposed) {
        org.nd4j.linalg.api.ndarray.INDArray w = org.nd4j.linalg.factory.Nd4j.create(values, shape, 'c');
        if (transposed) {
            w = w.transpose().dup('c');
        }
        org.nd4j.linalg.api.ndarray.INDArray zero = w.eq(0.0).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT);
        for (int[] p : new int[][] {{2, 4}, {4, 8}}) {
            if (w.columns() % p[1] == 0
                    && zero.reshape('c', w.length() / p[1], p[1]).sum(1).minNumber().intValue() >= p[0]) {
                return p[0] + ":" + p[1];
            }
        }
        return "-";
    }
}
