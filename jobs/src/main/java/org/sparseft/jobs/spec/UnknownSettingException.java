package org.sparseft.jobs.spec;

import org.sparseft.InvalidSettingException;

import java.util.List;

/** A key no setting of the spec has; carries the keys it has, for callers to list those their users may write. */
public final class UnknownSettingException extends InvalidSettingException {
    /** The keys the spec takes. */
    private final List<String> known;

    UnknownSettingException(String key, List<String> known) {
        super("{" + key + "} is unknown; expected one of " + String.join(", ", known));
        this.known = List.copyOf(known);
    }

    /** The spec's keys, sorted. */
    public List<String> known() {
        return known;
    }
}
