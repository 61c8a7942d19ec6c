package org.sparseft.jobs;

import org.sparseft.BadInputException;
import org.sparseft.io.Storage;

import java.io.IOException;

/** Checks every command makes on its output paths before doing any work. */
final class Outputs {
    private Outputs() {
    }

    /** An output file named by {@code flag}: never an existing directory, otherwise as {@link #check}. */
    static void checkFile(Storage storage, String flag, String path, boolean force) throws IOException {
        checkWritable(storage, flag, path); // first: looking at a path may itself be refused
        if (path != null && storage.isDirectory(path)) {
            throw new BadInputException(flag + " " + path + ": is a directory; expected a file path");
        }
        refuseExisting(storage, flag, path, force);
    }

    /**
     * An output named by {@code flag} may exist only when {@code --force} allows replacing it, and this user must be
     * able to write where it goes: refused now rather than after hours of work.
     */
    static void check(Storage storage, String flag, String path, boolean force) throws IOException {
        checkWritable(storage, flag, path); // first: looking at a path may itself be refused
        refuseExisting(storage, flag, path, force);
    }

    private static void refuseExisting(Storage storage, String flag, String path, boolean force) throws IOException {
        if (path != null && !force && storage.exists(path)) {
            throw new BadInputException(flag + " " + path + ": already exists (use --force to replace it)");
        }
    }

    /** A directory a command writes into as it goes (a training run's checkpoints), which may already exist. */
    static void checkWritable(Storage storage, String flag, String path) throws IOException {
        if (path == null) {
            return;
        }
        java.util.Optional<String> why = storage.whyNotWritable(path);
        if (why.isPresent()) {
            throw new BadInputException(flag + " " + path + ": cannot be written: " + why.get());
        }
    }

    /**
     * An output must not be, contain or lie inside an input directory: writing it there would mix results into the
     * input, and replacing it (--force) would delete the input.
     */
    static void refuseOverlap(Storage storage, String outFlag, String out, String inFlag, String in) {
        if (out == null || in == null) {
            return;
        }
        String o = withoutTrailingSlash(storage.qualify(out));
        String i = withoutTrailingSlash(storage.qualify(in));
        String relation = o.equals(i) ? "is" : i.startsWith(o + "/") ? "contains" : o.startsWith(i + "/")
                ? "lies inside" : null;
        if (relation != null) {
            throw new BadInputException(outFlag + " " + out + ": " + relation + " the input " + inFlag + " " + in
                    + "; write the output elsewhere");
        }
    }

    private static String withoutTrailingSlash(String path) {
        return path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    }
}
