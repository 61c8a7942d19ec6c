package org.sparseft.driver.data;

import java.io.Serializable;

/**
 * One text document with its place in the input: the file it came from and its ordinal there. Sorting by
 * (source, ordinal) gives the same order on every run whatever the partitioning.
 */
public record Document(String source, long ordinal, String text) implements Serializable {
}
