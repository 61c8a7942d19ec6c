package org.sparseft.jobs.spec;

import org.sparseft.InvalidSettingException;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/**
 * Settings that belong to one method (keyed {@code <method>-...}, e.g. {@code dsnot-max-cycles}) given to a job run
 * with another method: the job would silently ignore them, so they are refused. "Given" means set explicitly, so
 * one given with its default value counts.
 */
public final class MethodSettings {
    private MethodSettings() {
    }

    /**
     * Refuses the settings in {@code given} (keys, in the order given) that belong to another of
     * {@code methodsWithSettings} (their keys' prefixes, lower case) than {@code method}.
     */
    public static void refuseForeign(Collection<String> given, Enum<?> method, Collection<String> methodsWithSettings) {
        String m = method.name().toLowerCase(Locale.ROOT);
        List<String> others = new ArrayList<>();
        String owner = null;
        for (String key : given) {
            for (String other : methodsWithSettings) {
                if (!other.equals(m) && key.startsWith(other + "-")) {
                    others.add("{" + key + "}");
                    owner = owner == null ? other : owner;
                }
            }
        }
        if (!others.isEmpty()) {
            throw new InvalidSettingException(String.join(", ", others) + (others.size() == 1 ? " applies" : " apply")
                    + " to {method} " + owner + ", not " + m);
        }
    }

    /**
     * Refuses the first setting in {@code given} keyed {@code prefix...} when {@code applies} is false: it would be
     * ignored. {@code condition} completes the message "{key} applies ...".
     */
    public static void refuseUnless(boolean applies, Collection<String> given, String prefix, String condition) {
        if (applies) {
            return;
        }
        given.stream().filter(k -> k.startsWith(prefix)).findFirst().ifPresent(k -> {
            throw new InvalidSettingException("{" + k + "} applies " + condition);
        });
    }
}
