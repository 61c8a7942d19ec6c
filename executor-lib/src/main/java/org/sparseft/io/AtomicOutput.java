package org.sparseft.io;

import java.io.IOException;
import java.io.OutputStream;
import java.util.UUID;

/**
 * Outputs that appear whole or not at all: everything is written under a temporary name beside the target and
 * renamed at the end, so a crash or a failed write never leaves a half-written file or directory where a
 * reader (or a scheduler checking {@code _SUCCESS}) would take it for a result.
 */
public final class AtomicOutput {
    public static final String TEMP_MARK = ".inprogress-";
    /** Marks an existing output renamed aside while its replacement moves in, deleted once it has. */
    public static final String REPLACED_MARK = ".replaced-";

    private AtomicOutput() {
    }

    @FunctionalInterface
    public interface Writer {
        void write(OutputStream out) throws IOException;
    }

    @FunctionalInterface
    public interface DirectoryWriter {
        void write(String tempDir) throws IOException;
    }

    /** A temporary sibling of {@code target}: same directory, hidden name, unique. */
    public static String tempSibling(String target) {
        String t = target.endsWith("/") ? target.substring(0, target.length() - 1) : target;
        int slash = t.lastIndexOf('/');
        String dir = slash >= 0 ? t.substring(0, slash + 1) : "";
        String name = t.substring(slash + 1);
        return dir + "." + name + TEMP_MARK + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Writes one file atomically, replacing an existing file (never a directory). */
    public static void writeFile(Storage storage, String target, Writer writer) throws IOException {
        if (storage.isDirectory(target)) {
            throw new org.sparseft.BadInputException(target + ": is a directory; expected a file path");
        }
        String temp = tempSibling(target);
        boolean written = false;
        try {
            try (OutputStream out = storage.create(temp)) {
                writer.write(out);
            }
            written = true;
        } finally {
            if (!written) {
                deleteQuietly(storage, temp);
            }
        }
        moveIntoPlace(storage, temp, target);
    }

    /**
     * Builds a directory atomically: {@code writer} fills a temporary directory, which is then renamed to
     * {@code target}. With {@code replace}, an existing target is replaced; without, an existing target is an error
     * before anything is written.
     */
    public static void writeDirectory(Storage storage, String target, boolean replace, DirectoryWriter writer)
            throws IOException {
        if (!replace && storage.exists(target)) {
            throw new org.sparseft.BadInputException(target + ": output already exists (choose another path or"
                    + " allow overwriting)");
        }
        String temp = tempSibling(target);
        boolean written = false;
        try {
            storage.mkdirs(temp);
            writer.write(temp);
            written = true;
        } finally {
            if (!written) {
                deleteQuietly(storage, temp);
            }
        }
        moveIntoPlace(storage, temp, target);
    }

    /**
     * Renames {@code temp} to {@code target}. An existing target is first renamed aside and deleted only once the
     * new output is in place; if the final rename fails, the old output is put back. At no point is the old output
     * lost before the new one exists.
     */
    private static void moveIntoPlace(Storage storage, String temp, String target) throws IOException {
        String aside = null;
        try {
            if (storage.exists(target)) {
                String a = tempSibling(target).replace(TEMP_MARK, REPLACED_MARK);
                storage.rename(target, a); // may be refused (a sticky directory): then nothing has moved
                aside = a;
            }
            storage.rename(temp, target);
        } catch (IOException | RuntimeException e) {
            if (aside != null) {
                try {
                    storage.rename(aside, target);
                } catch (IOException | RuntimeException restore) {
                    e.addSuppressed(restore);
                }
            }
            deleteQuietly(storage, temp);
            throw e;
        }
        if (aside != null) {
            deleteQuietly(storage, aside);
        }
    }

    private static void deleteQuietly(Storage storage, String path) {
        try {
            storage.delete(path);
        } catch (IOException | RuntimeException ignored) {
            // the original failure is the one worth reporting
        }
    }
}
