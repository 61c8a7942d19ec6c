package org.sparseft.io.safetensors;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.sparseft.BadInputException;
import org.sparseft.io.HadoopStorage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every way a safetensors file can be malformed is refused with a message naming the file and the tensor. */
class SafetensorsMalformedTest {
    @TempDir
    Path tmp;

    static byte[] file(String json, int dataBytes) {
        return file(json.getBytes(StandardCharsets.UTF_8), json.length(), dataBytes);
    }

    static byte[] file(byte[] header, long declaredLength, int dataBytes) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(header);
        return b.array();
    }

    static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + ","
                + end + "]}";
    }

    static Stream<Arguments> cases() {
        String ok = entry("w", "F32", "[2]", 0, 8);
        byte[] valid = file("{" + ok + "}", 8);
        byte[] truncated = java.util.Arrays.copyOf(valid, valid.length - 3);
        return Stream.of(
                Arguments.of("empty file", new byte[0], "truncated"),
                Arguments.of("shorter than the length prefix", new byte[] {1, 2, 3}, "truncated"),
                Arguments.of("data cut short", truncated, "outside the data section"),
                Arguments.of("header longer than the file", file(("{" + ok + "}").getBytes(), 5000, 8), "runs past the end"),
                Arguments.of("header over 100 MB", file(("{" + ok + "}").getBytes(), 200_000_000L, 8), "outside [2, 100000000]"),
                Arguments.of("negative header length", file(("{" + ok + "}").getBytes(), -5, 8), "outside [2, 100000000]"),
                Arguments.of("invalid JSON", file("{\"w\":{\"dtype\":", 0), "not valid JSON"),
                Arguments.of("JSON array", file("[1,2]", 0), "must be a JSON object"),
                Arguments.of("not UTF-8", file(new byte[] {'{', (byte) 0xC3, (byte) 0x28, '}'}, 4, 0), "not valid UTF-8"),
                Arguments.of("duplicate names", file("{" + ok + "," + ok + "}", 8), "Duplicate field 'w'"),
                Arguments.of("unknown dtype", file("{" + entry("w", "F12", "[2]", 0, 8) + "}", 8), "unknown dtype 'F12'"),
                Arguments.of("offsets out of range", file("{" + entry("w", "F32", "[2]", 0, 8) + "}", 4), "outside the data section"),
                Arguments.of("end before begin", file("{" + entry("w", "F32", "[0]", 8, 4) + "}", 8), "outside the data section"),
                Arguments.of("size not shape x dtype", file("{" + entry("w", "F32", "[3]", 0, 8) + "}", 8), "needs 12"),
                Arguments.of("overlap", file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12), "overlap"),
                Arguments.of("negative dimension", file("{" + entry("w", "F32", "[-2]", 0, 8) + "}", 8), "non-negative integer"),
                Arguments.of("fractional dimension", file("{" + entry("w", "F32", "[2.5]", 0, 8) + "}", 8), "non-negative integer"),
                Arguments.of("missing offsets", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), "'data_offsets' must be"),
                Arguments.of("unexpected field", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8), "unexpected header field 'x'"),
                Arguments.of("metadata not strings", file("{\"__metadata__\":{\"a\":1}," + ok + "}", 8), "__metadata__.a must be a string"),
                Arguments.of("gap between tensors", file("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}", 12), "gap of 4 bytes before tensor 'b'"),
                Arguments.of("unused trailing bytes", file("{" + ok + "}", 12), "4 unused bytes after the last tensor"),
                Arguments.of("trailing JSON after the header", file("{" + ok + "}{}", 8), "not valid JSON"),
                Arguments.of("shape overflow", file("{" + entry("w", "F32", "[9223372036854775807,4]", 0, 8) + "}", 8), "too large"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void refusedWithANamedMessage(String label, byte[] content, String expected) throws Exception {
        Path p = tmp.resolve("bad.safetensors");
        Files.write(p, content);
        BadInputException e = assertThrows(BadInputException.class,
                () -> SafetensorsFile.open(HadoopStorage.withDefaults(), p.toString()).close());
        assertTrue(e.getMessage().contains(p.toString()), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(expected), "'" + expected + "' in: " + e.getMessage());
    }
}
