package org.sparseft.io.safetensors;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HalfFloatTest {

    private static int f16(float f) {
        return HalfFloat.floatToF16(f) & 0xffff;
    }

    private static int bf16(float f) {
        return HalfFloat.floatToBf16(f) & 0xffff;
    }

    @Test
    void f16HandPickedValues() {
        assertEquals(0x3C00, f16(1.0f));
        assertEquals(0xC000, f16(-2.0f));
        assertEquals(0x0000, f16(0.0f));
        assertEquals(0x8000, f16(-0.0f));
        assertEquals(0x7BFF, f16(65504f), "largest finite");
        assertEquals(0x7BFF, f16(65519.99f), "just below the rounding boundary");
        assertEquals(0x7C00, f16(65520f), "halfway to 65536 ties to even: overflows to infinity");
        assertEquals(0x7C00, f16(Float.POSITIVE_INFINITY));
        assertEquals(0xFC00, f16(Float.NEGATIVE_INFINITY));
        assertEquals(0x2E66, f16(0.1f), "0.1 rounds to 0x2E66");
        assertEquals(0x0400, f16(0x1p-14f), "smallest normal");
        assertEquals(0x03FF, f16(1023 * 0x1p-24f), "largest subnormal");
        assertEquals(0x0001, f16(0x1p-24f), "smallest subnormal");
        assertEquals(0x0000, f16(0x1p-25f), "half the smallest subnormal ties to even (zero)");
        assertEquals(0x0001, f16(1.5f * 0x1p-25f), "above the tie rounds up");
        assertEquals(0x0002, f16(3 * 0x1p-25f), "1.5 ulp ties to even (2)");
        assertEquals(0x8001, f16(-0x1p-24f));
        assertEquals(0x0000, f16(0x1p-30f), "far below: zero");
        assertEquals(0x3C00, f16(1 + 0x1p-11f), "tie between 1 and 1+2^-10 goes to even 1");
        assertEquals(0x3C02, f16(1 + 3 * 0x1p-11f), "tie between odd and even mantissa goes to even");
        assertEquals(0x3C01, f16(1 + 0x1p-11f + 0x1p-20f), "above the tie rounds up");
        assertEquals(0x0400, f16(1023.5f * 0x1p-24f), "subnormal rounding carries into the smallest normal");
    }

    @Test
    void f16NaNStaysNaN() {
        int h = f16(Float.NaN);
        assertEquals(0x7C00, h & 0x7C00);
        assertTrue((h & 0x03FF) != 0);
        assertTrue(Float.isNaN(HalfFloat.f16ToFloat(h)));
        assertTrue(Float.isNaN(HalfFloat.f16ToFloat(f16(Float.intBitsToFloat(0x7f800001)))), "low-payload NaN");
    }

    @Test
    void everyF16ValueRoundTripsExactly() {
        for (int h = 0; h < 0x10000; h++) {
            float f = HalfFloat.f16ToFloat(h);
            if (Float.isNaN(f)) {
                continue;
            }
            assertEquals(h, f16(f), "F16 0x" + Integer.toHexString(h) + " -> " + f);
        }
        assertEquals(0x1p-24f, HalfFloat.f16ToFloat(0x0001));
        assertEquals(65504f, HalfFloat.f16ToFloat(0x7BFF));
        assertEquals(-0.0f, HalfFloat.f16ToFloat(0x8000));
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(HalfFloat.f16ToFloat(0x8000)));
    }

    @Test
    void bf16HandPickedValues() {
        assertEquals(0x3F80, bf16(1.0f));
        assertEquals(0xC000, bf16(-2.0f));
        assertEquals(0x8000, bf16(-0.0f));
        assertEquals(0x3DCD, bf16(0.1f), "0x3DCCCCCD rounds up");
        assertEquals(0x3F80, bf16(1 + 0x1p-8f), "tie goes to even");
        assertEquals(0x3F82, bf16(1 + 3 * 0x1p-8f), "tie from odd goes up to even");
        assertEquals(0x7F80, bf16(Float.MAX_VALUE), "rounds up to infinity");
        assertEquals(0x7F80, bf16(Float.POSITIVE_INFINITY));
        assertEquals(0xFF80, bf16(Float.NEGATIVE_INFINITY));
        assertEquals(0x0000, bf16(Float.MIN_VALUE), "smallest float subnormal rounds to zero");
        assertEquals(0x0001, bf16(Float.intBitsToFloat(0x00010000)), "bf16 subnormals are kept");
        int nan = bf16(Float.intBitsToFloat(0x7f800001));
        assertTrue(Float.isNaN(HalfFloat.bf16ToFloat(nan)), "a NaN with only low payload bits stays NaN");
    }

    @Test
    void everyBf16ValueRoundTripsExactly() {
        for (int b = 0; b < 0x10000; b++) {
            float f = HalfFloat.bf16ToFloat(b);
            if (!Float.isNaN(f)) {
                assertEquals(b, bf16(f), "BF16 0x" + Integer.toHexString(b));
            }
        }
    }
}
