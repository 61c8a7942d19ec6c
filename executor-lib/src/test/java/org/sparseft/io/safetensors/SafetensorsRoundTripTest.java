package org.sparseft.io.safetensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class SafetensorsRoundTripTest {
    @TempDir
    Path tmp;
    private final Storage storage = HadoopStorage.withDefaults();

    private static byte[] bytes(ByteBuffer b) {
        ByteBuffer d = b.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }

    @Test
    void everyDtypeRoundTripsBitForBit() throws Exception {
        Random rnd = new Random(7);
        float[] values = new float[60];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) rnd.nextGaussian();
        }
        values[0] = Float.NaN;
        values[1] = Float.NEGATIVE_INFINITY;
        values[2] = -0.0f;
        values[3] = 1e-7f;
        byte[] u8 = new byte[] {0, 1, (byte) 255, 7};
        List<SafetensorsWriter.Entry> entries = List.of(
                SafetensorsWriter.Entry.ofFloats("w.f32", DType.F32, new long[] {3, 20}, values),
                SafetensorsWriter.Entry.ofFloats("w.f16", DType.F16, new long[] {60}, values),
                SafetensorsWriter.Entry.ofFloats("w.bf16", DType.BF16, new long[] {2, 5, 6}, values),
                new SafetensorsWriter.Entry("ids.i64", DType.I64, new long[] {2, 2},
                        TensorCodec.encodeI64(new long[] {0, -1, Long.MAX_VALUE, 50256})),
                new SafetensorsWriter.Entry("ids.i32", DType.I32, new long[] {3},
                        TensorCodec.encodeI32(new int[] {1, -2, Integer.MIN_VALUE})),
                new SafetensorsWriter.Entry("mask.u8", DType.U8, new long[] {4}, TensorCodec.encodeU8(u8)),
                new SafetensorsWriter.Entry("mask.bool", DType.BOOL, new long[] {2, 2},
                        TensorCodec.encodeU8(new byte[] {1, 0, 0, 1})),
                new SafetensorsWriter.Entry("scalar", DType.F32, new long[] {}, TensorCodec.encodeFloats(new float[] {4f}, DType.F32)),
                new SafetensorsWriter.Entry("empty", DType.F32, new long[] {0, 3}, ByteBuffer.allocate(0)));
        String path = tmp.resolve("all.safetensors").toString();
        SafetensorsWriter.write(storage, path, entries, Map.of("format", "pt", "note", "round trip"));

        try (SafetensorsFile f = SafetensorsFile.open(storage, path)) {
            assertEquals(entries.stream().map(SafetensorsWriter.Entry::name).toList(),
                    f.tensors().stream().map(TensorInfo::name).toList(), "order kept");
            assertEquals(Map.of("format", "pt", "note", "round trip"), f.metadata());
            for (SafetensorsWriter.Entry e : entries) {
                TensorInfo info = f.info(e.name());
                assertEquals(e.dtype(), info.dtype(), e.name());
                assertArrayEquals(e.shape(), info.shape(), e.name());
                assertArrayEquals(bytes(e.bytes()), bytes(f.rawBytes(e.name())), e.name() + " bytes");
            }
            float[] f32 = f.readFloats("w.f32");
            for (int i = 0; i < values.length; i++) {
                assertEquals(Float.floatToRawIntBits(values[i]), Float.floatToRawIntBits(f32[i]), "f32 " + i);
            }
            float[] f16 = f.readFloats("w.f16");
            float[] bf16 = f.readFloats("w.bf16");
            for (int i = 0; i < values.length; i++) {
                assertEquals(HalfFloat.f16ToFloat(HalfFloat.floatToF16(values[i])), f16[i], 0f);
                assertEquals(HalfFloat.bf16ToFloat(HalfFloat.floatToBf16(values[i])), bf16[i], 0f);
            }
            assertArrayEquals(new long[] {0, -1, Long.MAX_VALUE, 50256}, f.readIntegers("ids.i64"));
            assertArrayEquals(new long[] {1, -2, Integer.MIN_VALUE}, f.readIntegers("ids.i32"));
            assertArrayEquals(new long[] {0, 1, 255, 7}, f.readIntegers("mask.u8"));
            assertArrayEquals(new long[] {1, 0, 0, 1}, f.readIntegers("mask.bool"));
            assertArrayEquals(new float[] {4f}, f.readFloats("scalar"));
            assertEquals(0, f.readFloats("empty").length);
        }
        assertEquals(List.of("all.safetensors"), storage.list(tmp.toString()), "no temporary file left behind");
    }

    @Test
    void layoutMatchesTheFormatByteForByte() throws Exception {
        String path = tmp.resolve("one.safetensors").toString();
        SafetensorsWriter.write(storage, path, List.of(SafetensorsWriter.Entry.ofFloats("a", DType.F32,
                new long[] {2}, new float[] {1f, -2f})), Map.of());
        byte[] file = Files.readAllBytes(Path.of(path));
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"; // 54 bytes -> padded to 56
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(56, b.getLong(0));
        assertEquals(json + "  ", new String(file, 8, 56, StandardCharsets.UTF_8));
        assertEquals(1f, b.getFloat(64));
        assertEquals(-2f, b.getFloat(68));
        assertEquals(72, file.length);
    }

    @Test
    void readsAHandWrittenFile() throws Exception {
        // Written by hand from the format description: header length, JSON, then two F16 values 1.0 and -0.5.
        String json = "{\"__metadata__\":{\"k\":\"v\"},\"x\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[0,4]}}";
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).putShort((short) 0x3C00).putShort((short) 0xB800);
        Path p = tmp.resolve("hand.safetensors");
        Files.write(p, b.array());
        try (SafetensorsFile f = SafetensorsFile.open(storage, p.toString())) {
            assertArrayEquals(new float[] {1f, -0.5f}, f.readFloats("x"));
            assertEquals("v", f.metadata().get("k"));
            assertFalse(f.contains("__metadata__"));
        }
    }
}
