package org.sparseft.io.safetensors;

/** The element types of the safetensors format, with their size in bytes. */
public enum DType {
    F64(8, true), F32(4, true), F16(2, true), BF16(2, true),
    F8_E4M3(1, false), F8_E5M2(1, false),
    I64(8, false), I32(4, false), I16(2, false), I8(1, false),
    U64(8, false), U32(4, false), U16(2, false), U8(1, false),
    BOOL(1, false);

    private final int bytes;
    private final boolean floatingPoint;

    DType(int bytes, boolean floatingPoint) {
        this.bytes = bytes;
        this.floatingPoint = floatingPoint;
    }

    public int bytes() {
        return bytes;
    }

    /** Whether sparseft reads this type as float32 values (F64 is narrowed, F16/BF16 widened). */
    public boolean readableAsFloat() {
        return floatingPoint;
    }

    /** Whether sparseft reads this type as integer values (token ids, masks). */
    public boolean readableAsInteger() {
        return this == I64 || this == I32 || this == I16 || this == I8 || this == U8 || this == U16 || this == U32
                || this == BOOL;
    }

    /** Parses the header's dtype string; null when unknown. */
    public static DType parse(String s) {
        for (DType t : values()) {
            if (t.name().equals(s)) {
                return t;
            }
        }
        return null;
    }
}
