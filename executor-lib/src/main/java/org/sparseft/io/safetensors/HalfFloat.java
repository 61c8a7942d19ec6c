package org.sparseft.io.safetensors;

/**
 * IEEE binary16 (F16) and bfloat16 (BF16) conversions. Narrowing rounds to nearest, ties to even, keeps
 * infinities and signed zeros, turns NaN into a quiet NaN, and produces F16 subnormals where they apply; Java 17 has
 * no {@code Float.floatToFloat16}, so it is written out here and tested on hand-picked values.
 */
public final class HalfFloat {
    private static final float[] F16_TO_FLOAT = new float[1 << 16];

    static {
        for (int h = 0; h < (1 << 16); h++) {
            F16_TO_FLOAT[h] = decodeF16(h);
        }
    }

    private HalfFloat() {
    }

    /** F16 bits (low 16 bits of {@code h}) to float; exact. */
    public static float f16ToFloat(int h) {
        return F16_TO_FLOAT[h & 0xffff];
    }

    private static float decodeF16(int h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            float v = mant * 0x1p-24f; // subnormal (or zero): mant · 2^-24, exact in float
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** float to F16 bits, round to nearest even. */
    public static short floatToF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xff;
        int mant = bits & 0x7fffff;
        if (exp == 0xff) {
            return (short) (mant == 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (e <= 0) {
            if (e < -10) {
                return (short) sign; // below half the smallest subnormal: rounds to zero
            }
            int full = mant | 0x800000;
            int shift = 14 - e;
            int half = full >>> shift;
            int rest = full & ((1 << shift) - 1);
            int halfway = 1 << (shift - 1);
            if (rest > halfway || (rest == halfway && (half & 1) != 0)) {
                half++; // may carry into the smallest normal, which is the right answer
            }
            return (short) (sign | half);
        }
        int h = sign | (e << 10) | (mant >>> 13);
        int rest = mant & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) {
            h++; // a carry out of the mantissa bumps the exponent, up to infinity
        }
        return (short) h;
    }

    /** BF16 bits to float; exact. */
    public static float bf16ToFloat(int b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }

    /** float to BF16 bits, round to nearest even. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7f800000) == 0x7f800000 && (bits & 0x7fffff) != 0) {
            return (short) ((bits >>> 16) | 0x40); // NaN stays NaN (quiet), even if its payload was low bits only
        }
        int roundingBias = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}
