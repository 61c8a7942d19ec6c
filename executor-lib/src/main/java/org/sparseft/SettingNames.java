package org.sparseft;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Message templates that name settings in braces, e.g. {@code "{batch} 3 is not a multiple of {partitions} 2"}, so
 * that each caller names a setting the way its user wrote it: the command line as {@code --batch}, a recipe as
 * {@code finetune.batch}, the Java API as {@code batch}. {@code {{} is a literal brace.
 */
final class SettingNames {
    /** An escaped brace, or a setting. */
    private static final Pattern TOKEN = Pattern.compile("\\{\\{|\\{([a-z0-9-]+)}");

    private SettingNames() {
    }

    /** {@code value} as template text that renders as written, whatever braces it holds. */
    static String literal(Object value) {
        return String.valueOf(value).replace("{", "{{");
    }

    /** The settings {@code template} names, in order of appearance. */
    static List<String> settings(String template) {
        List<String> names = new ArrayList<>();
        Matcher m = TOKEN.matcher(template);
        while (m.find()) {
            if (m.group(1) != null) {
                names.add(m.group(1));
            }
        }
        return names;
    }

    /** {@code template} with each setting named by {@code nameOf}. */
    static String render(String template, UnaryOperator<String> nameOf) {
        return TOKEN.matcher(template).replaceAll(r -> Matcher.quoteReplacement(
                r.group(1) == null ? "{" : nameOf.apply(r.group(1))));
    }
}
