package org.sparseft.io.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import org.sparseft.BadInputException;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file opened for reading, tensor by tensor. The header is validated in full when the file is
 * opened: its length is bounded, its JSON well-formed with no duplicate names, and every tensor's dtype, shape and
 * byte range consistent and inside the file, without overlaps. Any violation is a {@link BadInputException}
 * naming the file and the tensor.
 */
public final class SafetensorsFile implements Closeable {
    /** The reference implementation's limit; a larger header is taken as a corrupt or hostile file. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    public static final String METADATA_KEY = "__metadata__";

    private final String path;
    private final Storage.RandomAccessInput input;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors; // in header order
    private final Map<String, String> metadata;

    private SafetensorsFile(String path, Storage.RandomAccessInput input, long dataStart,
                            Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.input = input;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    public static SafetensorsFile open(Storage storage, String path) throws IOException {
        Storage.RandomAccessInput in;
        try {
            in = storage.openRandomAccess(path);
        } catch (java.io.FileNotFoundException e) {
            throw BadInputException.at(path, "file not found");
        }
        try {
            return parse(path, in);
        } catch (RuntimeException | IOException e) {
            in.close();
            throw e;
        }
    }

    private static SafetensorsFile parse(String path, Storage.RandomAccessInput in) throws IOException {
        long fileLength = in.length();
        if (fileLength < 8) {
            throw BadInputException.at(path, "truncated safetensors file: " + fileLength
                    + " bytes, expected at least the 8-byte header length");
        }
        long headerLength = in.read(0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
            throw BadInputException.at(path, "safetensors header length " + Long.toUnsignedString(headerLength)
                    + " is outside [2, " + MAX_HEADER_BYTES + "] bytes");
        }
        if (8 + headerLength > fileLength) {
            throw BadInputException.at(path, "safetensors header length " + headerLength
                    + " runs past the end of the file (" + fileLength + " bytes): truncated or corrupt");
        }
        ByteBuffer headerBytes = in.read(8, (int) headerLength);
        String headerText;
        try {
            headerText = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .decode(headerBytes).toString();
        } catch (CharacterCodingException e) {
            throw BadInputException.at(path, "safetensors header is not valid UTF-8");
        }
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(headerText);
        } catch (JsonProcessingException e) {
            throw BadInputException.at(path, "safetensors header is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw BadInputException.at(path, "safetensors header must be a JSON object");
        }
        long dataStart = 8 + headerLength;
        long dataLength = fileLength - dataStart;
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals(METADATA_KEY)) {
                parseMetadata(path, e.getValue(), metadata);
            } else {
                tensors.put(e.getKey(), parseEntry(path, e.getKey(), e.getValue(), dataLength));
            }
        }
        checkLayout(path, tensors.values(), dataLength);
        return new SafetensorsFile(path, in, dataStart, Collections.unmodifiableMap(tensors),
                Collections.unmodifiableMap(metadata));
    }

    private static void parseMetadata(String path, JsonNode node, Map<String, String> out) {
        if (!node.isObject()) {
            throw BadInputException.at(path, METADATA_KEY + " must be an object of strings");
        }
        node.fields().forEachRemaining(m -> {
            if (!m.getValue().isTextual()) {
                throw BadInputException.at(path, METADATA_KEY + "." + m.getKey() + " must be a string");
            }
            out.put(m.getKey(), m.getValue().asText());
        });
    }

    private static TensorInfo parseEntry(String path, String name, JsonNode node, long dataLength) {
        String where = path + ": tensor '" + name + "'";
        if (!node.isObject()) {
            throw new BadInputException(where + ": header entry must be an object with dtype, shape, data_offsets");
        }
        node.fieldNames().forEachRemaining(f -> {
            if (!f.equals("dtype") && !f.equals("shape") && !f.equals("data_offsets")) {
                throw new BadInputException(where + ": unexpected header field '" + f + "'");
            }
        });
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new BadInputException(where + ": 'dtype' missing or not a string");
        }
        DType dtype = DType.parse(dtypeNode.asText());
        if (dtype == null) {
            throw new BadInputException(where + ": unknown dtype '" + dtypeNode.asText() + "'");
        }
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new BadInputException(where + ": 'shape' missing or not an array");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                throw new BadInputException(where + ": shape[" + i + "] = " + d + ", expected a non-negative integer");
            }
            shape[i] = d.asLong();
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2
                || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()
                || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()) {
            throw new BadInputException(where + ": 'data_offsets' must be [begin, end] integers");
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin || end > dataLength) {
            throw new BadInputException(where + ": data_offsets [" + begin + ", " + end
                    + "] outside the data section of " + dataLength + " bytes");
        }
        long expected;
        try {
            expected = Math.multiplyExact(TensorInfo.numel(shape), dtype.bytes());
        } catch (ArithmeticException e) {
            throw new BadInputException(where + ": shape " + java.util.Arrays.toString(shape) + " is too large");
        }
        if (end - begin != expected) {
            throw new BadInputException(where + ": " + (end - begin) + " bytes in data_offsets but shape "
                    + java.util.Arrays.toString(shape) + " of " + dtype + " needs " + expected);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /**
     * Tensors must tile the data section exactly, as the reference reader requires: no overlap, no gap, no unused
     * bytes at the end.
     */
    private static void checkLayout(String path, Iterable<TensorInfo> infos, long dataLength) {
        List<TensorInfo> sorted = new ArrayList<>();
        infos.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expected = 0;
        TensorInfo previous = null;
        for (TensorInfo t : sorted) {
            if (t.begin() < expected) {
                throw BadInputException.at(path, "tensors '" + previous.name() + "' and '" + t.name()
                        + "' overlap (bytes [" + previous.begin() + ", " + previous.end() + ") and ["
                        + t.begin() + ", " + t.end() + "))");
            }
            if (t.begin() > expected) {
                throw BadInputException.at(path, "gap of " + (t.begin() - expected) + " bytes before tensor '"
                        + t.name() + "' in the data section");
            }
            expected = t.end();
            previous = t;
        }
        if (expected != dataLength) {
            throw BadInputException.at(path, (dataLength - expected) + " unused bytes after the last tensor ("
                    + "data section of " + dataLength + " bytes)");
        }
    }

    public String path() {
        return path;
    }

    /** Tensors in header order. */
    public List<TensorInfo> tensors() {
        return List.copyOf(tensors.values());
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw BadInputException.at(path, "no tensor named '" + name + "'");
        }
        return t;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** The tensor's stored bytes (little-endian), read now. */
    public ByteBuffer rawBytes(String name) throws IOException {
        TensorInfo t = info(name);
        if (t.byteSize() > Integer.MAX_VALUE) {
            throw BadInputException.at(path, "tensor '" + name + "' has " + t.byteSize()
                    + " bytes; tensors over 2 GiB are not supported");
        }
        return input.read(dataStart + t.begin(), (int) t.byteSize());
    }

    /** The tensor's values as float32, from F32, F16, BF16 or F64. */
    public float[] readFloats(String name) throws IOException {
        TensorInfo t = info(name);
        if (!t.dtype().readableAsFloat()) {
            throw BadInputException.at(path, "tensor '" + name + "' has dtype " + t.dtype()
                    + ", expected a floating-point type (F32, F16, BF16, F64)");
        }
        return TensorCodec.decodeFloats(rawBytes(name), t.dtype());
    }

    /** The tensor's values as longs, from any integer or BOOL type. */
    public long[] readIntegers(String name) throws IOException {
        TensorInfo t = info(name);
        if (!t.dtype().readableAsInteger()) {
            throw BadInputException.at(path, "tensor '" + name + "' has dtype " + t.dtype()
                    + ", expected an integer type");
        }
        return TensorCodec.decodeIntegers(rawBytes(name), t.dtype());
    }

    @Override
    public void close() throws IOException {
        input.close();
    }
}
