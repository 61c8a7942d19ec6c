package org.sparseft.io.safetensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Little-endian tensor bytes to and from Java arrays; floats are computed in float32 whatever the stored type. */
public final class TensorCodec {
    private TensorCodec() {
    }

    public static float[] decodeFloats(ByteBuffer bytes, DType dtype) {
        ByteBuffer b = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = b.remaining() / dtype.bytes();
        float[] out = new float[n];
        switch (dtype) {
            case F32 -> b.asFloatBuffer().get(out);
            case F64 -> {
                var d = b.asDoubleBuffer();
                for (int i = 0; i < n; i++) {
                    out[i] = (float) d.get(i);
                }
            }
            case F16 -> {
                var s = b.asShortBuffer();
                for (int i = 0; i < n; i++) {
                    out[i] = HalfFloat.f16ToFloat(s.get(i));
                }
            }
            case BF16 -> {
                var s = b.asShortBuffer();
                for (int i = 0; i < n; i++) {
                    out[i] = HalfFloat.bf16ToFloat(s.get(i));
                }
            }
            default -> throw new IllegalArgumentException("dtype " + dtype + " is not a floating-point type");
        }
        return out;
    }

    public static long[] decodeIntegers(ByteBuffer bytes, DType dtype) {
        ByteBuffer b = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = b.remaining() / dtype.bytes();
        long[] out = new long[n];
        int p = b.position();
        for (int i = 0; i < n; i++) {
            out[i] = switch (dtype) {
                case I64 -> b.getLong(p + 8 * i);
                case I32 -> b.getInt(p + 4 * i);
                case U32 -> Integer.toUnsignedLong(b.getInt(p + 4 * i));
                case I16 -> b.getShort(p + 2 * i);
                case U16 -> Short.toUnsignedInt(b.getShort(p + 2 * i));
                case I8 -> b.get(p + i);
                case U8, BOOL -> Byte.toUnsignedInt(b.get(p + i));
                default -> throw new IllegalArgumentException("dtype " + dtype + " is not an integer type");
            };
        }
        return out;
    }

    /** Encodes float32 values as F32, F64, F16 or BF16 (round to nearest even). */
    public static ByteBuffer encodeFloats(float[] values, DType dtype) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.length, dtype.bytes())).order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case F32 -> b.asFloatBuffer().put(values);
            case F64 -> {
                var d = b.asDoubleBuffer();
                for (float v : values) {
                    d.put(v);
                }
            }
            case F16 -> {
                var s = b.asShortBuffer();
                for (float v : values) {
                    s.put(HalfFloat.floatToF16(v));
                }
            }
            case BF16 -> {
                var s = b.asShortBuffer();
                for (float v : values) {
                    s.put(HalfFloat.floatToBf16(v));
                }
            }
            default -> throw new IllegalArgumentException("cannot write float values as " + dtype);
        }
        return b;
    }

    /** The values as {@code dtype} holds them: what a reader of an exported F16/BF16 tensor gets back. */
    public static float[] roundTrip(float[] values, DType dtype) {
        return dtype == DType.F32 ? values : decodeFloats(encodeFloats(values, dtype), dtype);
    }

    public static ByteBuffer encodeI64(long[] values) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.length, 8)).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        return b;
    }

    public static ByteBuffer encodeI32(int[] values) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.length, 4)).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(values);
        return b;
    }

    public static ByteBuffer encodeU8(byte[] values) {
        return ByteBuffer.wrap(values.clone()).order(ByteOrder.LITTLE_ENDIAN);
    }
}
