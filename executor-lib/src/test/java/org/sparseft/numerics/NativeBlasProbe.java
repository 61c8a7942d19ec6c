package org.sparseft.numerics;

/** A fresh JVM's view: the core type in effect after {@link NativeBlas#prepare()}, then the loaded library. */
public final class NativeBlasProbe {
    private NativeBlasProbe() {
    }

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("library-first")) {
            // JNA's OpenBLAS first, ND4J's products after it, as a caller may do before any check ran
            System.out.println("library=" + NativeBlas.library());
            org.nd4j.linalg.api.ndarray.INDArray x = org.nd4j.linalg.factory.Nd4j.rand(
                    org.nd4j.linalg.api.buffer.DataType.DOUBLE, 4, 10, 4);
            for (int i = 0; i < 100; i++) {
                org.nd4j.linalg.factory.Nd4j.matmul(x, x, null, false, true, false);
            }
            System.out.println("products done");
            return;
        }
        NativeBlas.prepare();
        System.out.println("coretype=" + NativeBlas.coreTypeInEffect());
        NativeBlas.ensureCorrect();
        System.out.println("library=" + NativeBlas.library());
    }
}
