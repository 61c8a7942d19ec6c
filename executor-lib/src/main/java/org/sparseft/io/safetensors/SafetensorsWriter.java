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

    /** A tensor to write: its bytes are little-endian values of {@code dtype}. */
    public record Entry(String name, DType dtype, long[] shape, ByteBuffer bytes) {
        public Entry {
            shape = shape.clone();
            long expected = Math.multiplyExact(TensorInfo.numel(shape), dtype.bytes());
            if (bytes.remaining() != expected) {
                throw new IllegalArgumentException("tensor '" + name + "': " + bytes.remaining()
                        + " bytes given, shape " + java.util.Arrays.toString(shape) + " of " + dtype + " needs " + expected);
            }
        }

        public static Entry ofFloats(String name, DType dtype, long[] shape, float[] values) {
            return new Entry(name, dtype, shape, TensorCodec.encodeFloats(values, dtype));
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
                ByteBuffer b = e.bytes().duplicate();
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
            long size = e.bytes().remaining();
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
