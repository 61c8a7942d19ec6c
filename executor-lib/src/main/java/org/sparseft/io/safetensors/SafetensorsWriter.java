package org.sparseft.io.safetensors;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.sparseft.io.AtomicOutput;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes safetensors files atomically (temporary name, then rename). Tensors keep the order, names and dtypes
 * they are given; the header is padded with spaces to a multiple of 8 bytes, as the reference writer does, so
 * the data section stays aligned for memory-mapping readers.
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() {
    }

    /**
     * A tensor to write: its bytes are little-endian values of {@code dtype}, given or produced when the writer
     * reaches the tensor, so a file larger than memory is written one tensor at a time.
     */
    public record Entry(String name, DType dtype, long[] shape, Content content) {
        /** Produces the tensor's bytes when it is written (and again each time it is asked for). */
        @FunctionalInterface
        public interface Content {
            ByteBuffer bytes() throws IOException;
        }

        public Entry {
            shape = shape.clone();
            Math.multiplyExact(TensorInfo.numel(shape), dtype.bytes()); // refuses a shape too large to address
        }

        /** A tensor whose bytes are already in memory. */
        public Entry(String name, DType dtype, long[] shape, ByteBuffer bytes) {
            this(name, dtype, shape, constant(name, dtype, shape, bytes));
        }

        private static Content constant(String name, DType dtype, long[] shape, ByteBuffer bytes) {
            checkSize(name, dtype, shape, bytes);
            return () -> bytes;
        }

        private static void checkSize(String name, DType dtype, long[] shape, ByteBuffer bytes) {
            long expected = Math.multiplyExact(TensorInfo.numel(shape), dtype.bytes());
            if (bytes.remaining() != expected) {
                throw new IllegalArgumentException("tensor '" + name + "': " + bytes.remaining()
                        + " bytes given, shape " + java.util.Arrays.toString(shape) + " of " + dtype + " needs " + expected);
            }
        }

        public static Entry ofFloats(String name, DType dtype, long[] shape, float[] values) {
            return new Entry(name, dtype, shape, TensorCodec.encodeFloats(values, dtype));
        }

        /** The number of bytes the tensor takes: its shape's element count times its dtype's size. */
        public long byteSize() {
            return TensorInfo.numel(shape) * dtype.bytes();
        }

        /** The tensor's bytes (produced now if they are produced on demand), checked against its shape. */
        public ByteBuffer bytes() {
            try {
                ByteBuffer b = content.bytes();
                checkSize(name, dtype, shape, b);
                return b;
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    public static void write(Storage storage, String path, List<Entry> tensors, Map<String, String> metadata)
            throws IOException {
        byte[] header = header(tensors, metadata);
        AtomicOutput.writeFile(storage, path, out -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            out.write(len.array());
            out.write(header);
            WritableByteChannel channel = Channels.newChannel(out);
            for (Entry e : tensors) {
                ByteBuffer b;
                try {
                    b = e.bytes().duplicate();
                } catch (java.io.UncheckedIOException failed) {
                    throw failed.getCause();
                }
                while (b.hasRemaining()) {
                    channel.write(b);
                }
            }
            out.flush();
        });
    }

    static byte[] header(List<Entry> tensors, Map<String, String> metadata) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafetensorsFile.METADATA_KEY);
            new java.util.TreeMap<>(metadata).forEach(meta::put); // sorted: the same bytes whatever the map type
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (Entry e : tensors) {
            if (e.name().equals(SafetensorsFile.METADATA_KEY) || !seen.add(e.name())) {
                throw new IllegalArgumentException("duplicate or reserved tensor name '" + e.name() + "'");
            }
            ObjectNode t = root.putObject(e.name());
            t.put("dtype", e.dtype().name());
            ArrayNode shape = t.putArray("shape");
            for (long d : e.shape()) {
                shape.add(d);
            }
            long size = e.byteSize();
            t.putArray("data_offsets").add(offset).add(offset + size);
            offset += size;
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] header = new byte[padded];
        System.arraycopy(json, 0, header, 0, json.length);
        for (int i = json.length; i < padded; i++) {
            header[i] = ' ';
        }
        return header;
    }
}
