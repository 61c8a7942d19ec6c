package org.sparseft.numerics;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NativeBlasTest {
    private static final String AVX2 = "flags\t\t: fpu sse sse2 avx f16c avx2 fma bmi2\n";
    private static final String AVX512 = "flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512_bf16 avx512_fp16\n";

    @Test
    void theChecksPassHere() {
        assertEquals(List.of(), NativeBlas.problems());
        NativeBlas.ensureCorrect();
    }

    @Test
    void haswellKernelsAreChosenOnAvx512UnlessTheUserChoseACoreType() {
        assertEquals("Haswell", NativeBlas.coreTypeToSet(null, AVX512));
        assertEquals("Haswell", NativeBlas.coreTypeToSet("", AVX512));
        assertNull(NativeBlas.coreTypeToSet("SkylakeX", AVX512), "the user's choice stands");
        assertNull(NativeBlas.coreTypeToSet(null, AVX2));
        assertNull(NativeBlas.coreTypeToSet(null, "flags : avx2 avx512fp16x\n"), "only avx512f itself counts");
        assertNull(NativeBlas.coreTypeToSet(null, ""), "no /proc/cpuinfo: leave OpenBLAS to choose");
    }

    @Test
    void idleOpenMpThreadsSleepUnlessTheUserChoseAPolicyOrSpinCount() {
        assertEquals("PASSIVE", NativeBlas.waitPolicyToSet(null, null));
        assertEquals("PASSIVE", NativeBlas.waitPolicyToSet("", ""));
        assertNull(NativeBlas.waitPolicyToSet("ACTIVE", null), "the user's choice stands");
        assertNull(NativeBlas.waitPolicyToSet(null, "10000"), "a spin count is a choice too");
    }

    @Test
    void theRefusalNamesTheLibraryAndTheSetting() {
        String m = NativeBlas.failureMessage(List.of("dpotrf of a positive definite 130x130 matrix failed (info 33)"),
                "OpenBLAS 0.3.19 DYNAMIC_ARCH NO_AFFINITY SkylakeX, kernels SkylakeX", null);
        assertTrue(m.contains("OpenBLAS 0.3.19") && m.contains("kernels SkylakeX") && m.contains("dpotrf"), m);
        assertTrue(m.contains("set OPENBLAS_CORETYPE=Haswell") && m.contains("spark.executorEnv.OPENBLAS_CORETYPE"), m);
        String chosen = NativeBlas.failureMessage(List.of("x"), "lib", "SkylakeX");
        assertTrue(chosen.contains("sets OPENBLAS_CORETYPE=SkylakeX; try OPENBLAS_CORETYPE=Haswell"), chosen);
    }

    /** In a fresh JVM, as the launcher and every executor start: the choice must be made before OpenBLAS loads. */
    @Test
    void aFreshJvmOnAnAvx512ProcessorLoadsHaswellKernels(@TempDir Path dir) throws Exception {
        String avx512 = probe(dir, AVX512);
        assertTrue(avx512.contains("coretype=Haswell") && avx512.contains("kernels Haswell"), avx512);
        String avx2 = probe(dir, AVX2);
        assertTrue(avx2.contains("coretype=null") && avx2.contains("library=OpenBLAS"), avx2);
    }

    @Test
    void askingTheLibraryBeforeAnyProductLeavesNd4jsProductsWorking(@TempDir Path dir) throws Exception {
        String out = probe(dir, AVX2, "library-first");
        assertTrue(out.contains("products done") && !out.contains("Bad memory"), out);
    }

    private static String probe(Path dir, String cpuinfo, String... args) throws Exception {
        Path fake = Files.writeString(dir.resolve("cpuinfo-" + cpuinfo.hashCode()), cpuinfo);
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-D" + NativeBlas.CPUINFO_PROPERTY + "=" + fake, "-cp",
                System.getProperty("java.class.path"), NativeBlasProbe.class.getName()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().remove(NativeBlas.CORE_TYPE);
        pb.redirectErrorStream(true);
        File log = dir.resolve("probe.log").toFile();
        pb.redirectOutput(log);
        Process p = pb.start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "probe JVM did not finish");
        String out = Files.readString(log.toPath(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        return out;
    }
}
