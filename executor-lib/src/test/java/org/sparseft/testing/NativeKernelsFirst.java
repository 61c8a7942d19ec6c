package org.sparseft.testing;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;
import org.sparseft.numerics.NativeBlas;

/**
 * Runs {@link NativeBlas#prepare()} when a test JVM's launcher session opens, before any test class can load ND4J,
 * so that tests run on the kernels and thread policy that sparseft's own JVMs choose (on an AVX-512 processor, the
 * empty OPENBLAS_CORETYPE the build passes by default made OpenBLAS 0.3.19 load its Cooperlake kernels, whose
 * double-precision GEMM is wrong). Registered through
 * {@code META-INF/services} in this module's test jar, which every module's tests have on their class path.
 */
public final class NativeKernelsFirst implements LauncherSessionListener {
    @Override
    public void launcherSessionOpened(LauncherSession session) {
        NativeBlas.prepare();
    }
}
