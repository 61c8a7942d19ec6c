package org.sparseft.jobs;

import org.sparseft.io.HadoopStorage;
import org.sparseft.jobs.inspect.InspectResult;
import org.sparseft.jobs.inspect.InspectService;
import org.sparseft.model.ModelConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.List;
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
        InspectResult r = InspectService.run(HadoopStorage.withDefaults(), model, new InspectService.Listener() {
            @Override
            public void opened(String model, ModelConfig m, List<String> files) {
                w.printf("model       %s (%s), %d layers, hidden %d, %d heads, vocabulary %d, %,d parameters%n",
                        model, m.modelType(), m.numLayers(), m.hiddenSize(), m.numHeads(), m.vocabSize(),
                        m.parameterCount());
                w.printf("files       %s%n", String.join(", ", files));
                w.printf("%-48s %-5s %-16s %9s  %s%n", "tensor", "dtype", "shape", "sparsity", "N:M");
            }

            @Override
            public void tensor(InspectResult.Tensor t) { // a line as each is read: a large checkpoint takes a while
                String sparsity = !t.floatingPoint() ? "" : t.sparsity() == null ? "-"
                        : String.format("%.4f", t.sparsity());
                String nm = !t.floatingPoint() || t.shape().size() != 2 ? "" : t.nOutOfM() == null ? "-"
                        : t.nOutOfM();
                w.printf("%-48s %-5s %-16s %9s  %s%n", t.name(), t.dtype(), t.shape(), sparsity, nm);
            }
        });
        w.printf("overall sparsity %.4f over %,d floating-point values%n", r.sparsity(), r.values());
        w.flush();
        return Main.OK;
    }
}
