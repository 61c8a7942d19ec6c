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
        description = "Print a Hugging Face checkpoint's architecture and, per tensor, dtype, shape and sparsity"
                + " (fraction of exact zeros). Reads one tensor at a time.")
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
            w.printf("%-48s %-5s %-16s %9s%n", "tensor", "dtype", "shape", "sparsity");
            long zeros = 0;
            long total = 0;
            for (String name : ckpt.tensorNames()) {
                TensorInfo info = ckpt.info(name);
                String sparsity = "";
                if (info.dtype().readableAsFloat()) {
                    float[] v = ckpt.readFloats(name);
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
                w.printf("%-48s %-5s %-16s %9s%n", name, info.dtype(), info.shapeString(), sparsity);
            }
            w.printf("overall sparsity %.4f over %,d floating-point values%n", total == 0 ? 0 : (double) zeros / total, total);
        }
        w.flush();
        return Main.OK;
    }
}
