package org.sparseft.io;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

import java.io.EOFException;
import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link Storage} over Hadoop's {@link FileSystem}: the only class of the numeric core that sees Hadoop types.
 * Every file is read with positioned reads of the requested range (a checkpoint larger than the heap is read tensor
 * by tensor).
 */
public final class HadoopStorage implements Storage {
    private final Configuration conf;

    public HadoopStorage(Configuration conf) {
        this.conf = conf;
    }

    /** Storage with the default Hadoop configuration (core-site.xml on the class path, if any). */
    public static HadoopStorage withDefaults() {
        return new HadoopStorage(new Configuration());
    }

    public Configuration configuration() {
        return conf;
    }

    private Path path(String p) {
        if (p == null || p.isBlank()) {
            throw new IllegalArgumentException("empty path");
        }
        return new Path(p);
    }

    /** Local paths use the raw local file system: no hidden .crc files beside a Hugging Face checkpoint. */
    private FileSystem fs(Path p) throws IOException {
        FileSystem fs = p.getFileSystem(conf);
        return fs instanceof LocalFileSystem local ? local.getRawFileSystem() : fs;
    }

    @Override
    public RandomAccessInput openRandomAccess(String p) throws IOException {
        Path path = path(p);
        FileSystem fs = fs(path);
        FileStatus status = fs.getFileStatus(path);
        if (status.isDirectory()) {
            throw org.sparseft.BadInputException.at(p, "is a directory, expected a file");
        }
        if (fs instanceof RawLocalFileSystem local) {
            File file = local.pathToFile(path);
            return new LocalInput(file, p);
        }
        org.apache.hadoop.fs.FSDataInputStream in = fs.open(path);
        // A file still open for writing (a metrics log whose writer was killed): the NameNode's length stops at
        // the first flush of its last block, the DataNodes know what was flushed since.
        long length = in instanceof org.apache.hadoop.hdfs.client.HdfsDataInputStream hdfs
                ? Math.max(status.getLen(), hdfs.getVisibleLength()) : status.getLen();
        return new PositionedInput(in, length, p);
    }

    @Override
    public OutputStream create(String p) throws IOException {
        Path path = path(p);
        return fs(path).create(path, true);
    }

    /** Appends through {@code FileSystem.append} (HDFS and local files support it); flush() reaches readers (hflush). */
    @Override
    public OutputStream append(String p) throws IOException {
        Path path = path(p);
        FileSystem fs = fs(path);
        org.apache.hadoop.fs.FSDataOutputStream stream = fs.exists(path) ? fs.append(path) : fs.create(path, false);
        return new java.io.FilterOutputStream(stream) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                stream.write(b, off, len);
            }

            @Override
            public void flush() throws IOException {
                stream.hflush();
            }
        };
    }

    @Override
    public java.util.Optional<String> checksum(String p) throws IOException {
        Path path = path(p);
        org.apache.hadoop.fs.FileChecksum c = fs(path).getFileChecksum(path);
        return c == null ? java.util.Optional.empty()
                : java.util.Optional.of(c.getAlgorithmName() + ":" + java.util.HexFormat.of().formatHex(c.getBytes()));
    }

    @Override
    public java.util.Optional<String> whyNotWritable(String p) throws IOException {
        Path path = path(p);
        FileSystem fs = fs(path);
        Path dir = fs.makeQualified(path).getParent();
        try {
            while (dir != null && !fs.exists(dir)) {
                dir = dir.getParent();
            }
            if (dir == null) {
                return java.util.Optional.empty();
            }
            if (!fs.getFileStatus(dir).isDirectory()) {
                return java.util.Optional.of(dir + " is a file, not a directory");
            }
            if (fs instanceof RawLocalFileSystem local) {
                // the operating system's own answer: it knows root, groups and ACLs
                return java.nio.file.Files.isWritable(local.pathToFile(dir).toPath()) ? java.util.Optional.empty()
                        : java.util.Optional.of("no permission to write in " + dir);
            }
            fs.access(dir, org.apache.hadoop.fs.permission.FsAction.WRITE_EXECUTE);
            return java.util.Optional.empty();
        } catch (org.apache.hadoop.security.AccessControlException e) {
            // also thrown while looking for the ancestor, by a directory this user may not even enter
            String why = e.getMessage() == null ? "" : e.getMessage().lines().findFirst().orElse("");
            return java.util.Optional.of("no permission to write in " + dir + " (" + why + ")");
        }
    }

    @Override
    public boolean exists(String p) throws IOException {
        Path path = path(p);
        return fs(path).exists(path);
    }

    @Override
    public boolean isDirectory(String p) throws IOException {
        Path path = path(p);
        try {
            return fs(path).getFileStatus(path).isDirectory();
        } catch (FileNotFoundException e) {
            return false;
        }
    }

    @Override
    public List<String> list(String dir) throws IOException {
        Path path = path(dir);
        List<String> names = new ArrayList<>();
        for (FileStatus s : fs(path).listStatus(path)) {
            names.add(s.getPath().getName());
        }
        names.sort(null);
        return names;
    }

    @Override
    public long length(String p) throws IOException {
        Path path = path(p);
        return fs(path).getFileStatus(path).getLen();
    }

    @Override
    public void mkdirs(String p) throws IOException {
        Path path = path(p);
        if (!fs(path).mkdirs(path)) {
            throw new IOException("could not create directory " + p);
        }
    }

    @Override
    public void delete(String p) throws IOException {
        Path path = path(p);
        FileSystem fs = fs(path);
        if (fs.exists(path) && !fs.delete(path, true)) {
            throw new IOException("could not delete " + p);
        }
    }

    @Override
    public void rename(String from, String to) throws IOException {
        Path src = path(from);
        Path dst = path(to);
        FileSystem fs = fs(src);
        if (fs.exists(dst)) {
            throw new IOException("cannot rename " + from + " to " + to + ": the target exists");
        }
        if (!fs.rename(src, dst)) {
            throw new IOException("could not rename " + from + " to " + to);
        }
    }

    @Override
    public String qualify(String p) {
        Path path = path(p);
        try {
            return fs(path).makeQualified(path).toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void checkRange(long fileLength, long position, int length, String what) throws EOFException {
        if (position < 0 || length < 0 || position + length > fileLength) {
            throw new EOFException(what + ": bytes [" + position + ", " + (position + length)
                    + ") lie outside the file (" + fileLength + " bytes)");
        }
    }

    /**
     * Local file: positioned reads into a heap buffer, in chunks. Not memory-mapped: a mapped region's pages stay in
     * the process's resident set until the garbage collector drops the mapping, so reading a checkpoint tensor by
     * tensor through mappings grows the resident set towards the whole file; and chunks keep the JDK's per-thread
     * cache of temporary direct buffers small.
     */
    private static final class LocalInput implements RandomAccessInput {
        private static final int CHUNK = 8 << 20;
        private final RandomAccessFile file;
        private final FileChannel channel;
        private final long length;
        private final String name;

        LocalInput(File f, String name) throws IOException {
            RandomAccessFile raf = new RandomAccessFile(f, "r");
            try {
                this.channel = raf.getChannel();
                this.length = channel.size();
            } catch (IOException | RuntimeException e) {
                raf.close();
                throw e;
            }
            this.file = raf;
            this.name = name;
        }

        @Override
        public long length() {
            return length;
        }

        @Override
        public ByteBuffer read(long position, int len) throws IOException {
            checkRange(length, position, len, name);
            if (len == 0) {
                return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
            }
            ByteBuffer b = ByteBuffer.allocate(len);
            while (b.position() < len) {
                b.limit(Math.min(len, b.position() + CHUNK));
                if (channel.read(b, position + b.position()) < 0) {
                    throw new EOFException(name + ": ended at byte " + (position + b.position()));
                }
            }
            return b.flip().order(ByteOrder.LITTLE_ENDIAN);
        }

        @Override
        public String describe() {
            return name;
        }

        @Override
        public void close() throws IOException {
            file.close();
        }
    }

    /** Remote file (HDFS and others): positioned reads into a heap buffer. */
    private static final class PositionedInput implements RandomAccessInput {
        private final FSDataInputStream in;
        private final long length;
        private final String name;

        PositionedInput(FSDataInputStream in, long length, String name) {
            this.in = in;
            this.length = length;
            this.name = name;
        }

        @Override
        public long length() {
            return length;
        }

        @Override
        public ByteBuffer read(long position, int len) throws IOException {
            checkRange(length, position, len, name);
            byte[] bytes = new byte[len];
            in.readFully(position, bytes, 0, len);
            return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        }

        @Override
        public String describe() {
            return name;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    @Override
    public String toString() {
        return "HadoopStorage[fs.defaultFS=" + conf.get("fs.defaultFS") + "]";
    }
}
