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
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class NativeBlasTest {
    private static final String AVX2 = "flags\t\t: fpu sse sse2 avx f16c avx2 fma bmi2\n";
    private static final String AVX512 = "flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512_bf16 avx512_fp16\n";

    @Test
    void theChecksPassHere() {
        assertEquals(List.of(), NativeBlas.problems());
        NativeBlas.ensureCorrect();
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
        String m = NativeBlas.failureMessage(List.of("Cholesky 130x130 factor off by 0.05"),
                "OpenBLAS 0.3.19 DYNAMIC_ARCH NO_AFFINITY SkylakeX, kernels SkylakeX", null);
        assertTrue(m.contains("OpenBLAS 0.3.19") && m.contains("kernels SkylakeX") && m.contains("Cholesky"), m);
        assertTrue(m.contains("set OPENBLAS_CORETYPE=Haswell") && m.contains("spark.executorEnv.OPENBLAS_CORETYPE"), m);
        String chosen = NativeBlas.failureMessage(List.of("x"), "lib", "SkylakeX");
        assertTrue(chosen.contains("sets OPENBLAS_CORETYPE=SkylakeX; try OPENBLAS_CORETYPE=Haswell"), chosen);
    }

    @Test
    void skylakeXKernelsAreChosenOnAvx512UnlessTheUserChoseACoreType() {
        assertEquals("SkylakeX", NativeBlas.coreTypeToSet(null, AVX512));
        assertEquals("SkylakeX", NativeBlas.coreTypeToSet("", AVX512));
        assertNull(NativeBlas.coreTypeToSet("Haswell", AVX512), "the user's choice stands");
        assertNull(NativeBlas.coreTypeToSet(null, AVX2));
        assertNull(NativeBlas.coreTypeToSet(null, "flags : avx2 avx512fp16x\n"), "only avx512f itself counts");
        assertNull(NativeBlas.coreTypeToSet(null, ""), "no /proc/cpuinfo: leave OpenBLAS to choose");
    }

    /** In a fresh JVM, as the launcher and every executor start: the choice must be made before OpenBLAS loads. */
    @Test
    void aFreshJvmWithoutAvx512KeepsOpenBlasesChoice(@TempDir Path dir) throws Exception {
        String unset = probe(dir, AVX2, null);
        assertTrue(unset.contains("coretype=null") && unset.contains("library=OpenBLAS"), unset);
        String empty = probe(dir, AVX2, ""); // as the Maven build passes its default
        assertTrue(empty.contains("coretype=null") && empty.contains("library=OpenBLAS"), empty);
    }

    /**
     * On an AVX-512 processor a fresh JVM loads the SkylakeX kernels, whose dpotrf and dtrtri are wrong (the
     * factor off by 0.03-0.08 on the checks' matrices), and passes every check, because sparseft factors and
     * inverts by dgemm. Only where the processor runs them.
     */
    @Test
    void aFreshJvmOnAnAvx512ProcessorLoadsSkylakeXKernelsAndPassesEveryCheck(@TempDir Path dir) throws Exception {
        assumeTrue(NativeBlas.coreTypeToSet(null, Files.readString(Path.of("/proc/cpuinfo"))) != null,
                "no AVX-512 on this processor");
        String out = probe(dir, AVX512, null);
        assertTrue(out.contains("coretype=SkylakeX") && out.contains("kernels SkylakeX"), out);
    }

    @Test
    void askingTheLibraryBeforeAnyProductLeavesNd4jsProductsWorking(@TempDir Path dir) throws Exception {
        String out = probe(dir, AVX2, null, "library-first");
        assertTrue(out.contains("products done") && !out.contains("Bad memory"), out);
    }

    /**
     * The probe's output in a fresh JVM shown {@code cpuinfo} as its processor's, with OPENBLAS_CORETYPE set to
     * {@code coreType}, or unset when null.
     */
    private static String probe(Path dir, String cpuinfo, String coreType, String... args) throws Exception {
        Path fake = Files.writeString(dir.resolve("cpuinfo-" + cpuinfo.hashCode()), cpuinfo);
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-D" + NativeBlas.CPUINFO_PROPERTY + "=" + fake, "-cp",
                System.getProperty("java.class.path"), NativeBlasProbe.class.getName()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().remove(NativeBlas.CORE_TYPE);
        if (coreType != null) {
            pb.environment().put(NativeBlas.CORE_TYPE, coreType);
        }
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
