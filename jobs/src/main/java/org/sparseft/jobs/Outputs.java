package org.sparseft.jobs;

import org.sparseft.BadInputException;
import org.sparseft.io.Storage;

import java.io.IOException;

/** Checks every command makes on its output paths before doing any work. */
final class Outputs {
    private Outputs() {
    }

    /** An output file named by {@code flag}: never an existing directory, and an existing file only with --force. */
    static void checkFile(Storage storage, String flag, String path, boolean force) throws IOException {
        if (path != null && storage.isDirectory(path)) {
            throw new BadInputException(flag + " " + path + ": is a directory; expected a file path");
        }
        refuseExisting(storage, flag, path, force);
    }

    /** An output named by {@code flag} may exist only when {@code --force} allows replacing it. */
    static void refuseExisting(Storage storage, String flag, String path, boolean force) throws IOException {
        if (path != null && !force && storage.exists(path)) {
            throw new BadInputException(flag + " " + path + ": already exists (use --force to replace it)");
        }
    }
}
