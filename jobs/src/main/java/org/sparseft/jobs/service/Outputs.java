package org.sparseft.jobs.service;

import org.sparseft.InvalidSettingException;
import org.sparseft.io.Storage;

import java.io.IOException;
import java.util.Optional;

/**
 * Checks a job makes on its output paths before doing any work. Each path is named by its setting's key (e.g.
 * {@code out}), so the message names it as the caller's user wrote it.
 */
public final class Outputs {
    private Outputs() {
    }

    /** An output file: never an existing directory, otherwise as {@link #check}. */
    public static void checkFile(Storage storage, String key, String path, boolean force) throws IOException {
        checkWritable(storage, key, path); // first: looking at a path may itself be refused
        if (path != null && storage.isDirectory(path)) {
            throw InvalidSettingException.of(key, path, "is a directory; expected a file path");
        }
        refuseExisting(storage, key, path, force);
    }

    /**
     * An output may exist only when {@code force} allows replacing it, and this user must be able to write where it
     * goes: refused now rather than after hours of work.
     */
    public static void check(Storage storage, String key, String path, boolean force) throws IOException {
        checkWritable(storage, key, path);
        refuseExisting(storage, key, path, force);
    }

    private static void refuseExisting(Storage storage, String key, String path, boolean force) throws IOException {
        if (path != null && !force && storage.exists(path)) {
            throw new InvalidSettingException("{" + key + "} " + path + ": already exists (use {force} to replace it)");
        }
    }

    /** A directory a job writes into as it goes (a training run's checkpoints), which may already exist. */
    public static void checkWritable(Storage storage, String key, String path) throws IOException {
        if (path == null) {
            return;
        }
        Optional<String> why = storage.whyNotWritable(path);
        if (why.isPresent()) {
            throw InvalidSettingException.of(key, path, "cannot be written: " + why.get());
        }
    }

    /**
     * An output must not be, contain or lie inside an input directory: writing it there would mix results into the
     * input, and replacing it would delete the input.
     */
    public static void refuseOverlap(Storage storage, String outKey, String out, String inKey, String in) {
        if (out == null || in == null) {
            return;
        }
        String o = withoutTrailingSlash(storage.qualify(out));
        String i = withoutTrailingSlash(storage.qualify(in));
        String relation = o.equals(i) ? "is" : i.startsWith(o + "/") ? "contains" : o.startsWith(i + "/")
                ? "lies inside" : null;
        if (relation != null) {
            throw new InvalidSettingException("{" + outKey + "} " + out + ": " + relation + " the input {" + inKey
                    + "} " + in + "; write the output elsewhere");
        }
    }

    private static String withoutTrailingSlash(String path) {
        return path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    }
}
