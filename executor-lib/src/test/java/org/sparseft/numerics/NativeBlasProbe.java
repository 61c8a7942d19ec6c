package org.sparseft.numerics;

/** A fresh JVM's view: the core type in effect after {@link NativeBlas#prepare()}, then the loaded library. */
public final class NativeBlasProbe {
    private NativeBlasProbe() {
    }

    public static void main(String[] args) {
        NativeBlas.prepare();
        System.out.println("coretype=" + NativeBlas.coreTypeInEffect());
        NativeBlas.ensureCorrect();
        System.out.println("library=" + NativeBlas.library());
    }
}
