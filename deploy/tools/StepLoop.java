import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.model.ops.Linear;
import org.sparseft.numerics.NativeBlas;
import org.sparseft.numerics.Workspaces;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * A bare loop of training (or forward) passes of one model shape, printing each pass's seconds: what a profiler
 * should watch, with nothing else in the JVM. Run with the jar on the class path (docs/performance.md):
 * <pre>
 * java $(grep -v '^#' deploy/conf/java17-flags) -XX:StartFlightRecording=filename=step.jfr,settings=profile \
 *   -cp "jobs/target/sparseft.jar:jobs/target/spark-lib/*" deploy/tools/StepLoop.java demo 128 40 [forward]
 * </pre>
 * Shapes: demo (the demo model), llama (LLaMA d=256, vocabulary 4096), gpt2 (two GPT-2-small blocks, vocabulary 256).
 * Each line also shows the process's kernel (system) CPU time during the pass, and with
 * {@code -Dsparseft.clock.linears=true} the wall time inside the linears' GEMMs.
 */
public final class StepLoop {
    public static void main(String[] args) {
        if (args.length < 3) {
            System.err.println("usage: StepLoop demo|llama|gpt2 SEQLEN PASSES [forward]");
            System.exit(2);
        }
        NativeBlas.prepare(); // as sparseft's entry points do, before ND4J loads
        int batch = 8;
        int seqLen = Integer.parseInt(args[1]);
        int passes = Integer.parseInt(args[2]);
        ModelConfig cfg = switch (args[0]) {
            case "demo" -> LlamaConfig.of(257, 256, 256, 688, 4, 8, 4, true);
            case "llama" -> LlamaConfig.of(4096, 1024, 256, 688, 4, 8, 4, false);
            case "gpt2" -> Gpt2Config.of(256, 1024, 768, 2, 12);
            default -> throw new IllegalArgumentException("shape " + args[0]);
        };
        Parameters params = Parameters.initialize(cfg, 1, DataType.FLOAT);
        DecoderModel model = DecoderModel.of(params);
        Random random = new Random(1);
        int[] tokens = new int[batch * seqLen];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = random.nextInt(cfg.vocabSize());
        }
        int[] targets = DecoderModel.shiftedTargets(tokens, batch, seqLen);
        Parameters grads = params.zerosLike();
        boolean forward = args.length > 3 && args[3].equals("forward");
        boolean clocked = Boolean.getBoolean("sparseft.clock.linears");
        for (int i = 0; i < passes; i++) {
            long sys0 = systemTicks();
            long t0 = System.nanoTime();
            if (forward) {
                Workspaces.inStep("loop", () -> model.logits(tokens, batch, seqLen, EffectiveWeights.DENSE));
            } else {
                Workspaces.inStep("loop", () -> model.lossAndGradients(tokens, targets, batch, seqLen,
                        EffectiveWeights.DENSE, grads));
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            String linears = clocked ? String.format(", linears' GEMMs %.1f ms", Linear.takeGemmNanos() / 1e6) : "";
            System.out.printf("pass %d: %.3f s, system CPU %d ms%s%n", i, seconds, (systemTicks() - sys0) * 10, linears);
        }
    }

    /** The process's kernel-mode CPU time in clock ticks (1/100 s on Linux; -1 elsewhere), from /proc/self/stat. */
    private static long systemTicks() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            return Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[12]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
