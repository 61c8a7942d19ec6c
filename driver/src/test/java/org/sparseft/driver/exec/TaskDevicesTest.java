package org.sparseft.driver.exec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.BadInputException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TaskDevicesTest {
    @TempDir
    Path tmp;

    @Test
    void theFirstAssignedAddressIsTheDevice() {
        assertEquals(3, TaskDevices.device(new String[] {"3", "5"}, unset()));
        assertTrue(assertThrows(BadInputException.class, () -> TaskDevices.device(new String[] {"GPU-1a2b"}, unset()))
                .getMessage().contains("not a device number"));
        assertThrows(BadInputException.class, () -> TaskDevices.device(new String[] {"-1"}, unset()));
        assertThrows(BadInputException.class, () -> TaskDevices.device(new String[0], unset()));
    }

    @Test
    void withCudaVisibleDevicesAnAddressIsAPositionInTheList() {
        // CUDA_VISIBLE_DEVICES=1: physical GPU 1 is CUDA device 0, and there is no device 1.
        assertEquals(0, TaskDevices.device(new String[] {"0"}, visible("1")));
        BadInputException e = assertThrows(BadInputException.class,
                () -> TaskDevices.device(new String[] {"1"}, visible("1")));
        assertTrue(e.getMessage().contains("CUDA_VISIBLE_DEVICES='1'") && e.getMessage().contains("0..0"),
                e.getMessage());
        assertEquals(0, TaskDevices.device(new String[] {"0"}, visible("2,3")));
        assertEquals(1, TaskDevices.device(new String[] {"1"}, visible("2,3")));
        assertThrows(BadInputException.class, () -> TaskDevices.device(new String[] {"2"}, visible("2,3")));
        assertEquals(1, TaskDevices.device(new String[] {"1"}, visible("GPU-1a2b-3c4d,MIG-5e6f")));
        assertTrue(assertThrows(BadInputException.class, () -> TaskDevices.device(new String[] {"0"}, visible("")))
                .getMessage().contains("hides every GPU"));
    }

    @Test
    void cudaCountsVisibleEntriesUpToTheFirstMalformedOne() {
        assertEquals(0, TaskDevices.visibleCount(""));
        assertEquals(1, TaskDevices.visibleCount("1"));
        assertEquals(2, TaskDevices.visibleCount(" 2 , 3 "));
        assertEquals(3, TaskDevices.visibleCount("GPU-1a2b,MIG-GPU-3c4d/1/0,MIG-5e6f"));
        assertEquals(1, TaskDevices.visibleCount("0,-1,2"));
        assertEquals(0, TaskDevices.visibleCount("NoDevFiles"));
    }

    @Test
    void withoutAGpuResourceNothingIsPinned() {
        assertTrue(TaskDevices.pin().isEmpty(), "no task context, no GPU");
    }

    /** A directory holding an executable nvidia-smi that runs {@code script}, to put first on PATH. */
    private Path fakeNvidiaSmi(String dir, String script) throws Exception {
        Path bin = Files.createDirectories(tmp.resolve(dir));
        Path smi = bin.resolve("nvidia-smi");
        Files.writeString(smi, "#!/bin/sh\n" + script + "\n");
        Files.setPosixFilePermissions(smi, PosixFilePermissions.fromString("rwxr-xr-x"));
        return bin;
    }

    @Test
    void discoveryScriptListsWhatNvidiaSmiSeesAsSparkResourceJson() throws Exception {
        Path bin = fakeNvidiaSmi("bin", "printf '0\\n1\\n2\\n3\\n'");
        assertEquals(addresses("0", "1", "2", "3"), discover(bin.toString(), null), "unset: nvidia-smi's indices");
        Path broken = fakeNvidiaSmi("broken", "echo 'NVIDIA-SMI has failed' >&2\nexit 9");
        assertEquals("{\"name\": \"gpu\", \"addresses\": []}", discover(broken.toString(), null),
                "a failing nvidia-smi: no GPUs, still valid JSON");
    }

    @Test
    void underCudaVisibleDevicesTheDiscoveryScriptReportsCudaOrdinals() throws Exception {
        Path bin = fakeNvidiaSmi("bin", "printf '0\\n1\\n2\\n3\\n'");
        String path = bin.toString();
        assertEquals(addresses("0"), discover(path, "1"), "CUDA numbers the one visible GPU 0");
        assertEquals(addresses("0", "1"), discover(path, "2,3"));
        assertEquals(addresses("0", "1"), discover(path, "3, 0"));
        assertEquals(addresses("0", "1", "2"), discover(path, "GPU-1a2b-3c4d,MIG-GPU-5e6f/1/0,MIG-7a8b"));
        assertEquals(addresses(), discover(path, ""), "set but empty hides every GPU");
        assertEquals(addresses("0"), discover(path, "1,7,2"), "CUDA stops at an index that does not exist");
        assertEquals(addresses("0"), discover(path, "1,-1,2"), "and at a malformed entry");
        // Each reported address is an ordinal TaskDevices accepts in an executor with the same variable.
        for (String visible : new String[] {"1", "2,3", "GPU-1a2b-3c4d,MIG-GPU-5e6f/1/0,MIG-7a8b"}) {
            int count = TaskDevices.visibleCount(visible);
            for (int i = 0; i < count; i++) {
                assertEquals(i, TaskDevices.device(new String[] {Integer.toString(i)}, visible(visible)));
            }
            assertEquals(addresses(IntStream.range(0, count).mapToObj(Integer::toString)
                    .toArray(String[]::new)), discover(path, visible));
        }
    }

    private static UnaryOperator<String> unset() {
        return name -> null;
    }

    private static UnaryOperator<String> visible(String value) {
        return name -> "CUDA_VISIBLE_DEVICES".equals(name) ? value : null;
    }

    private static String addresses(String... addresses) {
        return "{\"name\": \"gpu\", \"addresses\": [" + Arrays.stream(addresses).map(a -> "\"" + a + "\"")
                .collect(Collectors.joining(", ")) + "]}";
    }

    private static String discover(String path, String visible) throws Exception {
        Path script = Path.of(System.getProperty("user.dir")).getParent().resolve("deploy/gpu/discover-gpus.sh");
        ProcessBuilder pb = new ProcessBuilder("bash", script.toString()).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.put("PATH", path + ":/usr/bin:/bin");
        env.remove("CUDA_VISIBLE_DEVICES");
        if (visible != null) {
            env.put("CUDA_VISIBLE_DEVICES", visible);
        }
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        assertEquals(0, p.waitFor(), out);
        return out;
    }
}
