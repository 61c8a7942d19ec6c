package org.sparseft.jobs;

import org.sparseft.BadInputException;
import picocli.CommandLine;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Options that belong to one method (named {@code --<method>-...}) given to a command run with another: the
 * command would silently ignore them, so they are refused. Whether an option was given is what picocli matched, not
 * a comparison with its default, so one given with its default value counts.
 */
public final class MethodOptions {
    private MethodOptions() {
    }

    /** A command whose --method chooses among methods that have options of their own. */
    public interface Owner {
        /** The --method as given. */
        String methodName();

        /** Every method the command knows, lower case. */
        List<String> methods();

        /** The methods that have options of their own, as their options' prefix reads ("pst" for --pst-...). */
        List<String> methodsWithOptions();
    }

    /**
     * The options of other methods that the user gave (on the command line or as a recipe's keys), in the order
     * given; none for an unknown method (the command refuses that itself).
     */
    public static List<String> foreign(CommandLine.ParseResult parsed, Owner command) {
        String m = command.methodName() == null ? "" : command.methodName().toLowerCase(Locale.ROOT);
        List<String> others = new ArrayList<>();
        if (!command.methods().contains(m)) {
            return others;
        }
        for (CommandLine.Model.OptionSpec o : parsed.matchedOptions()) {
            String name = o.longestName();
            for (String other : command.methodsWithOptions()) {
                if (!other.equals(m) && name.startsWith("--" + other + "-") && !others.contains(name)) {
                    others.add(name);
                }
            }
        }
        return others;
    }

    /** "--pst-weight-rank applies to --method pst, not ast". */
    public static String message(List<String> others, String method) {
        String owner = others.get(0).substring(2, others.get(0).indexOf('-', 2));
        return String.join(", ", others) + (others.size() == 1 ? " applies" : " apply") + " to --method " + owner
                + ", not " + method.toLowerCase(Locale.ROOT);
    }

    /** Refuses the other methods' options given to {@code command}. */
    static void refuseForeign(CommandLine.ParseResult parsed, Owner command) {
        List<String> others = foreign(parsed, command);
        if (!others.isEmpty()) {
            throw new BadInputException(message(others, command.methodName()));
        }
    }
}
