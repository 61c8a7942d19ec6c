package org.sparseft.jobs.bench;

import org.sparseft.InvalidSettingException;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.jobs.service.Progress;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.LlamaConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import org.sparseft.driver.prune.LayerwisePruner;
import org.sparseft.sparsity.SparsityPattern;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code sparseft bench ...}: benchmarks that print tables (speed targets live here, not in unit tests). */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks that print tables.",
        subcommands = {BenchCommand.Tokenizers.class, BenchCommand.Engine.class,
                BenchCommand.SameDiffVsHandWritten.class, BenchCommand.Spark.class,
                BenchCommand.MaskSearch.class, BenchCommand.Prune.class, BenchCommand.Checkpoint.class,
                BenchCommand.Sync.class})
public final class BenchCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing benchmark (e.g. 'sparseft bench engine')");
    }

    @Command(name = "engine", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = {"The model engine on this machine: float32 GEMM ceiling, then forward and "
                    + "forward+backward tokens/s, model FLOP utilisation (MFU) and peak resident memory for "
                    + "GPT-2-small-shaped and LLaMA-shaped models. Set OMP_NUM_THREADS to the cores to use."})
    public static final class Engine implements Callable<Integer> {
        @Option(names = "--batch", defaultValue = "8", description = "Sequences per step.")
        int batch;

        @Option(names = "--seqlen", defaultValue = "256", description = "Tokens per sequence.")
        int seqLen;

        @Option(names = "--reps", defaultValue = "3", description = "Timed repetitions of each pass (the median is shown).")
        int reps;

        @Option(names = "--warmup", defaultValue = "10", description = "Untimed passes of each kind first: the JIT "
                + "compiles the element-wise kernels during the first few, as at the start of any training run.")
        int warmup;

        @Option(names = "--layers", defaultValue = "2", description = "Blocks in the GPT-2-small-shaped model.")
        int layers;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            if (reps < 1) {
                throw InvalidSettingException.of("reps", reps, "expected at least 1");
            }
            if (warmup < 1) {
                throw InvalidSettingException.of("warmup", warmup, "expected at least 1 (the first pass sizes the "
                        + "workspaces)");
            }
            PrintWriter w = spec.commandLine().getOut();
            w.printf("threads: OMP_NUM_THREADS=%s, cores=%d%n", System.getenv().getOrDefault("OMP_NUM_THREADS", "(unset)"),
                    Runtime.getRuntime().availableProcessors());
            w.println("| GEMM m x k x n (out = x·wT, preallocated) | GFLOP/s |");
            w.println("|---|---:|");
            double peak = 0;
            for (int[] s : new int[][] {{2048, 768, 3072}, {2048, 3072, 768}, {2048, 768, 768}}) {
                EngineBenchmark.Gemm g = EngineBenchmark.gemm(s[0], s[1], s[2], 5);
                peak = Math.max(peak, g.gflops());
                w.printf("| %d x %d x %d | %.1f |%n", g.m(), g.k(), g.n(), g.gflops());
                w.flush();
            }
            w.printf("%nGEMM peak used for MFU: %.1f GFLOP/s%n%n", peak);
            w.printf("tokens/s: the median of %d timed passes of each kind, after %d untimed ones%n%n", reps, warmup);
            w.println("| model | parameters | batch x seqlen | forward tok/s | train tok/s | forward MFU | train MFU | peak resident |");
            w.println("|---|---:|---|---:|---:|---:|---:|---:|");
            row(w, EngineBenchmark.model("GPT-2-small shape, " + layers + " layers, vocab 50257",
                    Gpt2Config.of(50257, 1024, 768, layers, 12), batch, seqLen, warmup, reps, peak));
            row(w, EngineBenchmark.model("GPT-2-small blocks, " + layers + " layers, vocab 256",
                    Gpt2Config.of(256, 1024, 768, layers, 12), batch, seqLen, warmup, reps, peak));
            row(w, EngineBenchmark.model("demo model (deploy/demo: LLaMA d=256, 4 layers, GQA 8/4, vocab 257)",
                    LlamaConfig.of(257, 256, 256, 688, 4, 8, 4, true), batch, seqLen, warmup, reps, peak));
            row(w, EngineBenchmark.model("LLaMA shape d=256, 4 layers, GQA 8/4, vocab 4096",
                    LlamaConfig.of(4096, 1024, 256, 688, 4, 8, 4, false), batch, seqLen, warmup, reps, peak));
            return CommandLine.ExitCode.OK;
        }

        private static void row(PrintWriter w, EngineBenchmark.ModelRun r) {
            w.printf("| %s | %,d | %d x %d | %.0f | %.0f | %.0f%% | %.0f%% | %.0f MiB |%n", r.name(), r.parameters(),
                    r.batch(), r.seqLen(), r.forwardTokensPerSecond(), r.trainTokensPerSecond(), 100 * r.forwardMfu(),
                    100 * r.trainMfu(), r.peakResidentBytes() / 1048576.0);
            w.flush();
        }
    }

    @Command(name = "samediff", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = {"The engine's design decision, measured: a GPT-2-small-shaped model's forward and "
                    + "forward+backward through ND4J's SameDiff autodiff and through sparseft's hand-written backward."})
    public static final class SameDiffVsHandWritten implements Callable<Integer> {
        @Option(names = "--batch", defaultValue = "8", description = "Sequences per step.")
        int batch;

        @Option(names = "--seqlen", defaultValue = "256", description = "Tokens per sequence.")
        int seqLen;

        @Option(names = "--layers", defaultValue = "1", description = "GPT-2-small blocks (width 768, 12 heads).")
        int layers;

        @Option(names = "--reps", defaultValue = "3", description = "Timed repetitions.")
        int reps;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter w = spec.commandLine().getOut();
            Gpt2Config cfg = Gpt2Config.of(256, 1024, 768, layers, 12);
            w.printf("GPT-2-small blocks: %d layer(s), vocabulary 256, batch %d x %d tokens%n", layers, batch, seqLen);
            w.println("| engine | forward s | forward+backward s | train tok/s | peak resident |");
            w.println("|---|---:|---:|---:|---:|");
            for (var t : SameDiffComparison.run(cfg, batch, seqLen, reps)) {
                w.printf("| %s | %.3f | %.3f | %.0f | %.0f MiB |%n", t.engine(), t.forwardSeconds(), t.trainSeconds(),
                        batch * (double) seqLen / t.trainSeconds(), t.peakResidentBytes() / 1048576.0);
                w.flush();
            }
            return CommandLine.ExitCode.OK;
        }
    }

    @Command(name = "spark", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = {"What Spark costs a training step: the demo model's dense step timed in a plain loop and "
                    + "through sparseft's data-parallel trainer in local mode (gradient sync with 1 and 2 partitions, "
                    + "parameter averaging), with the payload bytes moved per step."})
    public static final class Spark implements Callable<Integer> {
        @Option(names = "--batch", defaultValue = "8", description = "Sequences per step.")
        int batch;

        @Option(names = "--seqlen", defaultValue = "256", description = "Tokens per sequence.")
        int seqLen;

        @Option(names = "--steps", defaultValue = "10", description = "Timed steps per row (after 2 warm-up steps).")
        int steps;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter w = spec.commandLine().getOut();
            var cfg = LlamaConfig.of(257, 256, 256, 688, 4, 8, 4, true);
            var blocks = SparkTrainingBenchmark.blocks(cfg, 512, seqLen);
            int warmup = 2;
            w.printf("demo model shape (LLaMA d=256, 4 layers, %,d parameters), batch %d x %d, median of %d steps;"
                            + " OMP_NUM_THREADS=%s, cores=%d%n", cfg.parameterCount(), batch, seqLen, steps,
                    System.getenv().getOrDefault("OMP_NUM_THREADS", "(unset)"), Runtime.getRuntime().availableProcessors());
            w.println("| setup | s/step | tokens/s | vs plain loop | payload moved per step |");
            w.println("|---|---:|---:|---:|---:|");
            // warm the JIT and the step's workspace first: the first loop of a fresh JVM runs slower
            SparkTrainingBenchmark.plainLoopOnThread(cfg, blocks, batch, warmup, steps);
            // the baseline runs on a fresh thread, as Spark's tasks do: the same loop on the JVM's main thread was
            // measured 25-35% slower (ND4J/OpenBLAS native code, reason not established), shown for reference
            var plain = SparkTrainingBenchmark.plainLoopOnThread(cfg, blocks, batch, warmup,
                    steps);
            row(w, plain, plain);
            row(w, SparkTrainingBenchmark.plainLoop(cfg, blocks, batch, warmup, steps), plain);
            var grad = org.sparseft.driver.train.DataParallelTrainer.Sync.GRAD;
            var avg = org.sparseft.driver.train.DataParallelTrainer.Sync.AVERAGE;
            row(w, SparkTrainingBenchmark.spark("Spark local[1], 1 partition, grad sync",
                    "local[1]", 1, grad, 1, 0, cfg, blocks, batch, warmup, steps), plain);
            row(w, SparkTrainingBenchmark.spark("Spark local[2], 2 partitions, grad sync",
                    "local[2]", 2, grad, 1, 0, cfg, blocks, batch, warmup, steps), plain);
            row(w, SparkTrainingBenchmark.spark(
                    "Spark local[2], 2 partitions, grad sync, 1 BLAS thread per task", "local[2]", 2, grad, 1, 1, cfg,
                    blocks, batch, warmup, steps), plain);
            row(w, SparkTrainingBenchmark.spark(
                    "Spark local[2], 2 partitions, averaging every 5 steps", "local[2]", 2, avg, 5, 0, cfg, blocks,
                    batch, 5, Math.max(5, steps / 5 * 5)), plain);
            return CommandLine.ExitCode.OK;
        }

        private static void row(PrintWriter w, SparkTrainingBenchmark.Row r,
                                SparkTrainingBenchmark.Row plain) {
            w.printf("| %s | %.3f | %.0f | %s | %s |%n", r.setup(), r.secondsPerStep(), r.tokensPerSecond(),
                    r == plain ? "-" : String.format("%+.1f%%", 100 * (r.secondsPerStep() / plain.secondsPerStep() - 1)),
                    r.bytesPerStep() == 0 ? "-" : String.format("%.1f MB", r.bytesPerStep() / 1e6));
            w.flush();
        }
    }

    @Command(name = "masks", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = {"The time to choose one linear's mask from its weight and input statistics: magnitude,"
                    + " Wanda, DSnoT and SparseGPT, unstructured 50%% and 2:4, on a GPT-2-small MLP shape by default."})
    public static final class MaskSearch implements Callable<Integer> {
        @Option(names = "--rows", defaultValue = "768", description = "Output features.")
        int rows;

        @Option(names = "--cols", defaultValue = "3072", description = "Input features.")
        int cols;

        @Option(names = "--reps", defaultValue = "3", description = "Timed repetitions (after one warm-up).")
        int reps;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter w = spec.commandLine().getOut();
            MaskSearchBenchmark.run(rows, cols, 1); // warm-up
            w.printf("mask search for one [%d, %d] linear; OMP_NUM_THREADS=%s%n", rows, cols,
                    System.getenv().getOrDefault("OMP_NUM_THREADS", "(unset)"));
            w.println("| method | pattern | seconds |");
            w.println("|---|---|---:|");
            for (var r : MaskSearchBenchmark.run(rows, cols, reps)) {
                w.printf("| %s | %s | %.3f |%n", r.method(), r.pattern(), r.seconds());
            }
            w.flush();
            return CommandLine.ExitCode.OK;
        }
    }

    @Command(name = "tokenizers", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = {"A tokenizer.json run by the hand-written byte-level BPE (where its format allows) and by"
                    + " Hugging Face's library: load time, tokens per second in one thread, identical ids."})
    public static final class Tokenizers implements Callable<Integer> {
        @Option(names = "--dir", required = true, paramLabel = "DIR", description = "A directory with tokenizer.json"
                + " (and tokenizer_config.json).")
        String dir;

        @Option(names = "--data", required = true, paramLabel = "FILE", description = "Text to encode, documents"
                + " separated by empty lines.")
        String data;

        @Option(names = "--reps", defaultValue = "3", description = "Timed repetitions (after one warm-up).")
        int reps;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter w = spec.commandLine().getOut();
            var storage = org.sparseft.io.HadoopStorage.withDefaults();
            String text = new String(storage.readAllBytes(data), java.nio.charset.StandardCharsets.UTF_8);
            w.printf("%s on %s (%,d characters), one thread%n", dir, data, text.length());
            w.println("| implementation | load | tokens | tokens/s | ids identical |");
            w.println("|---|---:|---:|---:|---|");
            for (var r : TokenizerBenchmark.run(storage, dir, text, reps)) {
                w.printf("| %s | %.2f s | %,d | %,.0f | %s |%n", r.implementation(), r.loadSeconds(), r.tokens(),
                        r.tokensPerSecond(), r.sameIds() ? "yes" : "NO");
            }
            w.flush();
            return CommandLine.ExitCode.OK;
        }
    }

    @Command(name = "prune", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = {"One-shot pruning time per block through Spark, split into calibration passes (statistics"
                    + " included, and shown apart) and mask search, for each method, on the shipped demo model and a"
                    + " GPT-2-small-shaped random model (width 768, MLP 3072), with random calibration tokens."})
    public static final class Prune implements Callable<Integer> {
        @Option(names = "--layers", defaultValue = "2", description = "Blocks of the GPT-2-small-shaped model.")
        int layers;

        @Option(names = "--nsamples", defaultValue = "16", description = "Calibration sequences.")
        int nsamples;

        @Option(names = "--seqlen", defaultValue = "256", description = "Tokens per calibration sequence.")
        int seqLen;

        @Option(names = "--partitions", defaultValue = "2", description = "Calibration partitions.")
        int partitions;

        @Option(names = "--master", defaultValue = "local[2]", description = "Spark master.")
        String master;

        @Option(names = "--pattern", defaultValue = "0.5", description = "A sparsity ratio or N:M.")
        String pattern;

        @Option(names = "--demo-model", defaultValue = "deploy/demo/model", description = "The demo model directory.")
        String demoModel;

        @Option(names = "--methods", defaultValue = "magnitude,wanda,dsnot,sparsegpt", split = ",",
                description = "Methods to time.")
        List<String> methods;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter w = spec.commandLine().getOut();
            SparsityPattern p = SparsityPattern.parse(pattern);
            List<LayerwisePruner.Method> ms = methods.stream()
                    .map(m -> LayerwisePruner.Method.valueOf(m.trim().toUpperCase(java.util.Locale.ROOT))).toList();
            w.printf("%d calibration sequences of %d tokens in %d partitions on %s, target %s; OMP_NUM_THREADS=%s%n",
                    nsamples, seqLen, partitions, master, p.structure().equals("unstructured") ? p.ratio()
                            : p.structure(), System.getenv().getOrDefault("OMP_NUM_THREADS", "(unset)"));
            w.println("| model | method | block | calibration s | of which statistics s | mask search s |");
            w.println("|---|---|---:|---:|---:|---:|");
            List<PruneBenchmark.Row> rows = new java.util.ArrayList<>();
            java.nio.file.Path demo = java.nio.file.Path.of(demoModel);
            if (java.nio.file.Files.isRegularFile(demo.resolve("config.json"))) {
                rows.addAll(print(w, PruneBenchmark.run("demo (LLaMA d=256, 4 blocks)",
                        demo.toUri().toString(), master, partitions, nsamples, seqLen, p, ms)));
            } else {
                w.printf("(no demo model at %s: its rows are left out)%n", demo);
            }
            var gpt2 = Gpt2Config.of(50257, 1024, 768, layers, 12);
            rows.addAll(print(w, PruneBenchmark.run("GPT-2-small shape, " + layers
                            + " blocks", PruneBenchmark.randomCheckpoint(gpt2), master,
                    partitions, nsamples, Math.min(seqLen, gpt2.maxPositions()), p, ms)));
            w.printf("%n| model | method | total calibration s | total mask search s |%n|---|---|---:|---:|%n");
            java.util.Map<String, double[]> totals = new java.util.LinkedHashMap<>();
            for (var r : rows) {
                double[] t = totals.computeIfAbsent(r.model() + " | " + r.method(), k -> new double[2]);
                t[0] += r.timing().calibrationSeconds();
                t[1] += r.timing().maskSeconds();
            }
            totals.forEach((k, t) -> w.printf("| %s | %.2f | %.2f |%n", k, t[0], t[1]));
            w.flush();
            return CommandLine.ExitCode.OK;
        }

        private static List<PruneBenchmark.Row> print(
                PrintWriter w, List<PruneBenchmark.Row> rows) {
            for (var r : rows) {
                var t = r.timing();
                w.printf("| %s | %s | %d | %.2f | %.2f | %.2f |%n", r.model(), r.method(), t.block(),
                        t.calibrationSeconds(), t.statisticsSeconds(), t.maskSeconds());
            }
            w.flush();
            return rows;
        }
    }

    @Command(name = "sync", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = {"What synchronisation costs an AST 2:4 step (distillation, decay, re-selected masks) of a"
                    + " model: gradients summed on the driver (--sync grad) against reduce-scattered and applied on"
                    + " the executors (--sync sharded), at each partition count in local mode. Prints seconds per"
                    + " step and, measured by a Spark listener, the task-result bytes the driver received and the"
                    + " shuffle bytes the executors wrote per step. The model is a Hugging Face checkpoint directory,"
                    + " e.g. one written by 'sparseft bench checkpoint --shape gpt2-small'."})
    public static final class Sync implements Callable<Integer> {
        @Option(names = "--model", required = true, paramLabel = "DIR", description = "The model (any Hadoop FS).")
        String model;

        @Option(names = "--partitions", defaultValue = "1,2,4,8", split = ",", paramLabel = "P,...",
                description = "Partition counts; each must divide --batch.")
        List<Integer> partitions;

        @Option(names = "--cores", defaultValue = "2", description = "Spark local cores.")
        int cores;

        @Option(names = "--sync", defaultValue = "grad,sharded", split = ",", paramLabel = "MODE,...",
                description = "The synchronisations to compare: grad, sharded.")
        List<String> syncs;

        @Option(names = "--batch", defaultValue = "8", description = "Sequences per step.")
        int batch;

        @Option(names = "--seqlen", defaultValue = "64", description = "Tokens per sequence.")
        int seqLen;

        @Option(names = "--steps", defaultValue = "3", description = "Timed steps per row (at least 2; after one"
                + " warm-up step; the last step's final checkpoint is left out).")
        int steps;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (steps < 2) {
                throw InvalidSettingException.of("steps", steps, "expected at least 2");
            }
            for (int p : partitions) {
                if (p < 1 || batch % p != 0) {
                    throw InvalidSettingException.of("partitions", p, "must be at least 1 and divide --batch " + batch);
                }
            }
            String dir = HadoopStorage.withDefaults().qualify(model);
            PrintWriter w = spec.commandLine().getOut();
            org.sparseft.model.ModelConfig cfg;
            try (var checkpoint = org.sparseft.io.hf.HfCheckpoint.open(HadoopStorage.withDefaults(), dir)) {
                cfg = checkpoint.config().model();
            }
            w.printf("AST 2:4 of %s (%s, %,d parameters), batch %d x %d, local[%d], median of %d steps after 1"
                    + " warm-up; MB per step%n", model, cfg.modelType(), cfg.parameterCount(), batch, seqLen, cores,
                    steps - 1);
            w.println("| sync | partitions | s/step | driver sent (payload) | driver received (measured) |"
                    + " executors' shuffle writes (measured) |");
            w.println("|---|---:|---:|---:|---:|---:|");
            w.flush();
            for (int p : partitions) {
                for (String mode : syncs) {
                    var sync = switch (mode) {
                        case "grad" -> org.sparseft.driver.train.DataParallelTrainer.Sync.GRAD;
                        case "sharded" -> org.sparseft.driver.train.DataParallelTrainer.Sync.SHARDED;
                        default -> throw InvalidSettingException.of("sync", mode, "expected grad or sharded");
                    };
                    SyncBenchmark.Row r = SyncBenchmark.run(dir, sync, p, cores, batch, seqLen, 1, steps);
                    w.printf("| %s | %d | %.2f | %.1f | %.3f | %.1f |%n", sync.name().toLowerCase(java.util.Locale.ROOT),
                            p, r.secondsPerStep(), r.driverSent() / 1e6, r.driverReceived() / 1e6,
                            r.shuffleWritten() / 1e6);
                    w.flush();
                }
            }
            return CommandLine.ExitCode.OK;
        }
    }

    @Command(name = "checkpoint", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = {"Write a published model shape filled with seeded random weights, in Hugging Face layout"
                    + " (config.json, save_pretrained's shards and index), with random calibration tokens beside it:"
                    + " inputs for measuring pruning time and memory at 1B-7B sizes. Tensors are generated one at a"
                    + " time as they are written, so memory holds about one tensor whatever the model's size.",
                    "Writes DIR/model, DIR/calibration.safetensors and DIR/_SUCCESS."})
    public static final class Checkpoint implements Callable<Integer> {
        @Option(names = "--shape", required = true, paramLabel = "NAME", converter = CheckpointShape.Converter.class,
                completionCandidates = CheckpointShape.Names.class,
                description = "The model shape: ${COMPLETION-CANDIDATES}.")
        CheckpointShape shape;

        @Option(names = "--dtype", defaultValue = "bf16", paramLabel = "TYPE",
                converter = RandomCheckpoint.Precision.Converter.class,
                completionCandidates = RandomCheckpoint.Precision.Names.class,
                description = "Weight dtype: ${COMPLETION-CANDIDATES} (config.json's torch_dtype follows).")
        RandomCheckpoint.Precision dtype;

        @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory (any Hadoop FS).")
        String out;

        @Option(names = "--force", description = "Replace an existing --out (deleted before writing).")
        boolean force;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of the weights and the tokens.")
        long seed;

        @Option(names = "--shard-bytes", defaultValue = "" + HfCheckpointWriter.HUB_SHARD_BYTES,
                paramLabel = "BYTES", description = "Largest shard in tensor bytes, as save_pretrained's"
                + " max_shard_size (0: one model.safetensors).")
        long shardBytes;

        @Option(names = "--calibration-sequences", defaultValue = "8", paramLabel = "N",
                description = "Random calibration sequences in DIR/calibration.safetensors.")
        int sequences;

        @Option(names = "--seqlen", defaultValue = "512", paramLabel = "T", description = "Tokens per calibration"
                + " sequence (at most the shape's positions).")
        int seqLen;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            var cfg = shape.config();
            if (sequences < 1) {
                throw InvalidSettingException.of("calibration-sequences", sequences, "expected at least 1");
            }
            if (seqLen < 2 || seqLen > cfg.maxPositions()) {
                throw InvalidSettingException.of("seqlen", seqLen, "expected 2.." + cfg.maxPositions()
                        + " (the positions of " + shape.id() + ")");
            }
            if (shardBytes < 0) {
                throw InvalidSettingException.of("shard-bytes", shardBytes, "must not be negative");
            }
            var progress = new Progress(spec.commandLine().getErr());
            progress.step(shape.id() + ": " + shape.description());
            RandomCheckpoint.Summary s = RandomCheckpoint.write(HadoopStorage.withDefaults(), out, cfg,
                    dtype, seed, shardBytes, sequences, seqLen, force, progress);
            PrintWriter w = spec.commandLine().getOut();
            w.printf("%s: %,d parameters, %s, %,d bytes on disk (%.2f GB), %.1f s -> %s%n", shape.id(),
                    s.parameters(), dtype, s.bytesOnDisk(), s.bytesOnDisk() / 1e9, s.seconds(), out);
            w.flush();
            return CommandLine.ExitCode.OK;
        }
    }
}
