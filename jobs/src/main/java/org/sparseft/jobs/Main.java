package org.sparseft.jobs;

import org.sparseft.BadInputException;
import org.sparseft.RuntimeFailure;
import org.sparseft.numerics.NativeBlas;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.List;
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
    public static final int OK = 0;
    public static final int BAD_INPUT = 2;
    public static final int RUNTIME_FAILURE = 3;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command");
    }

    public static void main(String[] args) {
        NativeBlas.prepare(); // before anything loads ND4J
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs a command line in this JVM and returns its exit code (what tests call). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        NativeBlas.prepare();
        CommandLine cli = commandLine(out, err);
        return cli.execute(args);
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

    private static final String BAD_INPUT_CLASS = BadInputException.class.getName() + ": ";

    private static boolean messageNamesBadInput(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c.getMessage() != null && c.getMessage().contains(BAD_INPUT_CLASS)) {
                return true;
            }
        }
        return false;
    }

    static String message(Throwable t) {
        BadInputException b = badInput(t);
        if (b != null) {
            return b.getMessage();
        }
        for (Throwable c = t; c != null; c = c.getCause()) {
            String m = c.getMessage();
            if (m != null && m.contains(BAD_INPUT_CLASS)) {
                String rest = m.substring(m.indexOf(BAD_INPUT_CLASS) + BAD_INPUT_CLASS.length());
                int eol = rest.indexOf('\n');
                return eol >= 0 ? rest.substring(0, eol) : rest;
            }
            if (c instanceof RuntimeFailure) {
                return m;
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
            return new String[] {"sparseft " + org.sparseft.jobs.report.BuildInfo.sparseftVersion()};
        }
    }
}
