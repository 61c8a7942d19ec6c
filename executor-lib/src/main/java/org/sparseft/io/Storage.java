package org.sparseft.io;

import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.util.List;

/**
 * The file-system seam of the numeric core: every path sparseft reads or writes goes through it, so
 * {@code file://}, {@code hdfs://} and other Hadoop schemes behave alike. Paths are URI strings; a path without a
 * scheme is resolved against Hadoop's {@code fs.defaultFS} (the local file system unless the cluster configuration
 * says otherwise), so commands qualify user paths on the driver before tasks see them.
 */
public interface Storage {

    /** Random-access reading; on local files the implementation may memory-map. */
    RandomAccessInput openRandomAccess(String path) throws IOException;

    /** Creates (or replaces) a file, creating parent directories. */
    OutputStream create(String path) throws IOException;

    /** Opens a file for appending, creating it if absent; {@code flush()} makes what was written visible to readers. */
    OutputStream append(String path) throws IOException;

    boolean exists(String path) throws IOException;

    boolean isDirectory(String path) throws IOException;

    /** Names (not paths) of the direct children of a directory, sorted. */
    List<String> list(String dir) throws IOException;

    long length(String path) throws IOException;

    void mkdirs(String path) throws IOException;

    /** Recursive delete; absent paths are fine. */
    void delete(String path) throws IOException;

    /**
     * Moves {@code from} to {@code to}, which must not exist. File systems differ when the target exists
     * (HDFS moves the source inside it), so callers delete or refuse first.
     */
    void rename(String from, String to) throws IOException;

    /**
     * Why this user could not create {@code path} (or replace it): its nearest existing ancestor is a file, or a
     * directory this user may not write. Empty when the checks pass; the file system may still refuse later (a
     * quota, safe mode, a sticky directory), which writers then report as a failure.
     */
    java.util.Optional<String> whyNotWritable(String path) throws IOException;

    /** A content checksum the file system keeps itself (HDFS does), if it has one; never reads the file. */
    default java.util.Optional<String> checksum(String path) throws IOException {
        return java.util.Optional.empty();
    }

    /** The fully qualified form of a path (scheme and authority filled in), for messages and provenance. */
    String qualify(String path);

    /** A whole (small) file: configs, tokenizer files, token lists. */
    default byte[] readAllBytes(String path) throws IOException {
        try (RandomAccessInput in = openRandomAccess(path)) {
            long len = in.length();
            if (len > Integer.MAX_VALUE - 16) {
                throw new IOException(path + ": " + len + " bytes is too large to read whole");
            }
            java.nio.ByteBuffer b = in.read(0, (int) len);
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            return bytes;
        }
    }

    default void writeAtomically(String path, byte[] content) throws IOException {
        AtomicOutput.writeFile(this, path, out -> out.write(content));
    }

    static String join(String dir, String name) {
        return dir.endsWith("/") ? dir + name : dir + "/" + name;
    }

    /** A readable file with positioned reads. */
    interface RandomAccessInput extends Closeable {
        long length();

        /**
         * The bytes [position, position + length) as a little-endian heap buffer. Fails with EOFException if the
         * range passes the end.
         */
        java.nio.ByteBuffer read(long position, int length) throws IOException;

        /** Where the data comes from, for messages. */
        String describe();
    }
}
