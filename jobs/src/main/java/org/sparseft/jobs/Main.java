package org.sparseft.jobs;

import org.sparseft.BadInputException;
import org.sparseft.InvalidSettingException;
import org.sparseft.RuntimeFailure;
import org.sparseft.jobs.bench.BenchCommand;
import org.sparseft.numerics.NativeBlas;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code sparseft <command> [options]}: the entry point for the local launcher and for {@code spark-submit --class}.
 * Exit codes: 0 success, 2 bad input or configuration, 3 runtime failure.
 */
@Command(name = "sparseft", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Distributed sparse fine-tuning of transformer language models on Apache Spark.",
        subcommands = {DataCommand.class, TokenizeCommand.class, PretrainCommand.class, EvaluateCommand.class,
                PruneCommand.class, FinetuneCommand.class,
                InspectCommand.class, BenchCommand.class, PlotCommand.class, RunCommand.class,
                DemoCommand.class,
                CommandLine.HelpCommand.class},
        footer = {"", "Exit codes: 0 success, 2 bad input or configuration, 3 runtime failure.",
                "Run 'sparseft <command> --help' for a command's options."})
public final class Main implements Runnable {
    /** Exit code of a command that succeeded. */
    public static final int OK = 0;
    /** Exit code of bad input or configuration: the message names the file, flag or key. */
    public static final int BAD_INPUT = 2;
    /** Exit code of a failure on valid input (storage refused, non-finite loss, lost executors, out of memory). */
    public static final int RUNTIME_FAILURE = 3;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command");
    }

    /** How long the JVM's shutdown hooks (Spark's, Hadoop's) may take before the process is halted. */
    static final long EXIT_GRACE_MILLIS = 30_000;

    /** Runs the command line and exits the JVM with its exit code. */
    public static void main(String[] args) {
        NativeBlas.prepare(); // before anything loads ND4J
        // Made before the command runs: after an OutOfMemoryError there may be no memory left to make it.
        int[] code = {RUNTIME_FAILURE};
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(EXIT_GRACE_MILLIS);
            } catch (InterruptedException ignored) {
                // halt all the same
            }
            Runtime.getRuntime().halt(code[0]);
        }, "sparseft-exit-watchdog");
        watchdog.setDaemon(true);
        PrintWriter err = new PrintWriter(System.err, true);
        Thread.setDefaultUncaughtExceptionHandler(Main::uncaught);
        try {
            code[0] = run(args, new PrintWriter(System.out, true), err);
            Thread ranOut = threadOutOfMemory;
            if (code[0] == OK && ranOut != null) { // the command got by; say that memory ran short
                err.println("sparseft: warning: thread '" + ranOut.getName() + "' ended by an OutOfMemoryError;"
                        + " consider raising the driver memory");
            }
        } finally {
            exit(code[0], watchdog);
        }
    }

    /** The first thread other than the command's that ended by running out of memory. */
    private static volatile Thread threadOutOfMemory;

    /**
     * When the heap runs out, any thread may be the one whose allocation fails, Spark's helpers too. Their stack
     * traces would bury the command's own one-line report, so an OutOfMemoryError there is only noted (and named
     * should the command still succeed); other errors print as the JVM prints them.
     */
    private static void uncaught(Thread thread, Throwable e) {
        if (e instanceof OutOfMemoryError) {
            if (threadOutOfMemory == null) {
                threadOutOfMemory = thread; // allocates nothing: the heap may still be full
            }
            return;
        }
        System.err.print("Exception in thread \"" + thread.getName() + "\" ");
        e.printStackTrace();
    }

    /**
     * Ends the process with {@code code} whatever else runs: Spark's non-daemon threads do not keep it alive
     * (System.exit does not wait for them), and shutdown hooks that hang (possible after an OutOfMemoryError) are
     * cut short by the watchdog's halt.
     */
    private static void exit(int code, Thread watchdog) {
        try {
            watchdog.start();
        } catch (Throwable noThread) {
            System.out.flush();
            System.err.flush();
            Runtime.getRuntime().halt(code);
        }
        System.exit(code);
    }

    /** Runs a command line in this JVM and returns its exit code (what tests call). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        NativeBlas.prepare();
        CommandLine cli = commandLine(out, err);
        try {
            return cli.execute(args);
        } catch (Error e) { // picocli hands exceptions to the handlers below, errors (out of memory...) come here
            err.println(errorLine(e, commandName(cli, args)));
            if (outOfMemory(e) == null && System.getenv("SPARSEFT_DEBUG") != null) {
                e.printStackTrace(err);
            }
            err.flush();
            return RUNTIME_FAILURE;
        }
    }

    private static final String OUT_OF_MEMORY_FALLBACK = "sparseft: out of memory; raise the driver memory"
            + " (SPARSEFT_DRIVER_MEMORY, --driver-memory, spark.driver.memory or -Xmx)";

    /** The one line an Error ends a command with: out of memory with what to raise, else the error's first line. */
    static String errorLine(Throwable e, String command) {
        try {
            String oom = outOfMemory(e);
            if (oom != null) {
                return inSparkTask(e)
                        ? "sparseft: out of memory (" + oom + ") in a Spark task of " + command + "; raise the"
                        + " executor memory (spark.executor.memory; in local mode, the driver memory:"
                        + " SPARSEFT_DRIVER_MEMORY, --driver-memory or -Xmx)"
                        : "sparseft: out of memory (" + oom + ") in " + command + "; raise the driver memory"
                        + " (SPARSEFT_DRIVER_MEMORY for deploy/bin/sparseft, --driver-memory or spark.driver.memory"
                        + " for spark-submit, or -Xmx)";
            }
            return "sparseft: error: " + message(e);
        } catch (OutOfMemoryError stillOut) {
            return OUT_OF_MEMORY_FALLBACK;
        }
    }

    private static final String OOM_CLASS = OutOfMemoryError.class.getName() + ": ";

    /**
     * What ran out (the innermost OutOfMemoryError's message, e.g. "Java heap space"), also when the error is only
     * named in a message (a failed Spark task's); null when nothing in the cause chain ran out of memory.
     */
    static String outOfMemory(Throwable t) {
        String found = null;
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof OutOfMemoryError) {
                found = c.getMessage() == null ? "" : firstLine(c.getMessage());
            } else if (found == null && c.getMessage() != null && c.getMessage().contains(OOM_CLASS)) {
                found = firstLine(c.getMessage().substring(c.getMessage().indexOf(OOM_CLASS) + OOM_CLASS.length()));
            }
        }
        return found == null ? null : found.isEmpty() ? "OutOfMemoryError" : found;
    }

    /** Whether a Spark job failed because of a task (the error happened in a task, not in this thread). */
    private static boolean inSparkTask(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof org.apache.spark.SparkException && c.getMessage() != null
                    && c.getMessage().contains("due to stage failure")) {
                return true;
            }
        }
        return false;
    }

    /** The subcommand named on the command line ("evaluate"), or "sparseft". */
    private static String commandName(CommandLine cli, String[] args) {
        for (String a : args) {
            if (cli.getSubcommands().containsKey(a)) {
                return a;
            }
        }
        return "sparseft";
    }

    static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExitCodeExceptionMapper(Main::exitCode);
        cli.setParameterExceptionHandler((ex, args) -> {
            err.println("sparseft: " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
            err.println("Run '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help' for usage.");
            err.flush();
            return BAD_INPUT;
        });
        cli.setExecutionStrategy(parseResult -> {
            checkNumerics(parseResult);
            return new CommandLine.RunLast().execute(parseResult);
        });
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (outOfMemory(ex) != null) { // e.g. a Spark job failed by a task's OutOfMemoryError
                err.println(errorLine(ex, commandLine.getCommandName()));
                err.flush();
                return RUNTIME_FAILURE;
            }
            int code = exitCode(ex);
            err.println("sparseft: error: " + message(ex));
            if (code == RUNTIME_FAILURE && System.getenv("SPARSEFT_DEBUG") != null) {
                ex.printStackTrace(err);
            }
            err.flush();
            return code;
        });
        return cli;
    }

    /** Commands that compute nothing with ND4J skip the native library check (and its start-up time). */
    private static final Set<String> WITHOUT_NUMERICS = Set.of("data", "plot", "help");

    /** The BLAS/LAPACK check before a command computes (not for help, version or commands without numerics). */
    private static void checkNumerics(CommandLine.ParseResult parseResult) {
        List<CommandLine> commands = parseResult.asCommandLineList();
        for (CommandLine c : commands) {
            if (c.isUsageHelpRequested() || c.isVersionHelpRequested()) {
                return;
            }
        }
        CommandLine last = commands.get(commands.size() - 1);
        if (commands.size() < 2 || WITHOUT_NUMERICS.contains(commands.get(1).getCommandName())) {
            return;
        }
        try {
            NativeBlas.ensureCorrect();
        } catch (RuntimeFailure e) {
            throw new CommandLine.ExecutionException(last, e.getMessage(), e);
        }
    }

    /** Bad input anywhere in the cause chain (also when it was thrown inside a Spark task) is exit 2. */
    static int exitCode(Throwable t) {
        return badInput(t) != null || messageNamesBadInput(t) ? BAD_INPUT : RUNTIME_FAILURE;
    }

    private static BadInputException badInput(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof BadInputException b) {
                return b;
            }
        }
        return null;
    }

    /**
     * How a failed Spark task's bad input reads in the job's message. An InvalidSettingException there has only its
     * text, which names settings by key ("pattern 2:4: ..."), not as flags.
     */
    private static final List<String> BAD_INPUT_CLASSES = List.of(BadInputException.class.getName() + ": ",
            InvalidSettingException.class.getName() + ": ");

    private static boolean messageNamesBadInput(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c.getMessage() != null && badInputAt(c.getMessage()) >= 0) {
                return true;
            }
        }
        return false;
    }

    /** Where the bad input's own message starts in {@code message}, or -1. */
    private static int badInputAt(String message) {
        for (String named : BAD_INPUT_CLASSES) {
            int at = message.indexOf(named);
            if (at >= 0) {
                return at + named.length();
            }
        }
        return -1;
    }

    static String message(Throwable t) {
        BadInputException b = badInput(t);
        if (b != null) { // the command line names settings by their flags
            return b instanceof InvalidSettingException s ? s.render(k -> "--" + k) : b.getMessage();
        }
        for (Throwable c = t; c != null; c = c.getCause()) {
            String m = c.getMessage();
            int at = m == null ? -1 : badInputAt(m);
            if (at >= 0) {
                String rest = m.substring(at);
                int eol = rest.indexOf('\n');
                return eol >= 0 ? rest.substring(0, eol) : rest;
            }
            if (c instanceof RuntimeFailure f) {
                return f.render(k -> "--" + k);
            }
        }
        Throwable root = t;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        String top = t.getClass().getSimpleName() + ": " + firstLine(t.getMessage());
        // e.g. a stream's close() rethrowing its write's exception reads "Self-suppression not permitted"
        return root == t ? top : top + " (caused by " + root.getClass().getSimpleName() + ": "
                + firstLine(root.getMessage()) + ")";
    }

    /** HDFS's remote exceptions carry the NameNode's stack trace in their message: the first line says it all. */
    private static String firstLine(String message) {
        if (message == null) {
            return null;
        }
        int eol = message.indexOf('\n');
        return eol >= 0 ? message.substring(0, eol) : message;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            // What a result depends on beside sparseft itself; loading ND4J's backend names CPU or CUDA.
            Map<String, String> v = org.sparseft.jobs.report.BuildInfo.current().asMap();
            return new String[] {"sparseft " + v.remove("sparseft"),
                    v.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).collect(
                            java.util.stream.Collectors.joining(", "))};
        }
    }
}
