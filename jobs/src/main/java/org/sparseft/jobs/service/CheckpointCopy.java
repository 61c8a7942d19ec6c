package org.sparseft.jobs.service;

import org.sparseft.io.AtomicOutput;
import org.sparseft.io.Storage;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;

/** A checkpoint directory's files copied to another place atomically (a recipe's export stage). */
public final class CheckpointCopy {
    private static final int CHUNK = 1 << 24;

    private CheckpointCopy() {
    }

    /** Copies the files (not subdirectories) of {@code from} into {@code target}, replacing it. */
    public static void copy(Storage storage, String from, String target) throws IOException {
        AtomicOutput.writeDirectory(storage, target, true, tmp -> {
            for (String name : storage.list(from)) {
                String src = Storage.join(from, name);
                if (!storage.isDirectory(src)) {
                    copyFile(storage, src, Storage.join(tmp, name));
                }
            }
        });
    }

    private static void copyFile(Storage storage, String from, String to) throws IOException {
        try (Storage.RandomAccessInput in = storage.openRandomAccess(from); OutputStream o = storage.create(to)) {
            for (long pos = 0; pos < in.length(); pos += CHUNK) {
                ByteBuffer b = in.read(pos, (int) Math.min(CHUNK, in.length() - pos));
                byte[] chunk = new byte[b.remaining()];
                b.get(chunk);
                o.write(chunk);
            }
        }
    }
}
