package org.sparseft.driver;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.BadInputException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TaskDevicesTest {
    @TempDir
    Path tmp;

    @Test
    void theFirstAssignedAddressIsTheDevice() {
        assertEquals(3, TaskDevices.device(new String[] {"3", "5"}));
        assertTrue(assertThrows(BadInputException.class, () -> TaskDevices.device(new String[] {"GPU-1a2b"}))
                .getMessage().contains("not a device number"));
        assertThrows(BadInputException.class, () -> TaskDevices.device(new String[0]));
    }

    @Test
    void withoutAGpuResourceNothingIsPinned() {
        assertTrue(TaskDevices.pin().isEmpty(), "no task context, no GPU");
    }

    @Test
    void discoveryScriptListsWhatNvidiaSmiSeesAsSparkResourceJson() throws Exception {
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path smi = bin.resolve("nvidia-smi");
        Files.writeString(smi, "#!/bin/sh\nprintf '0\\n1\\n'\n");
        Files.setPosixFilePermissions(smi, PosixFilePermissions.fromString("rwxr-xr-x"));
        assertEquals("{\"name\": \"gpu\", \"addresses\": [\"0\", \"1\"]}", discover(bin.toString(), null));
        assertEquals("{\"name\": \"gpu\", \"addresses\": [\"1\"]}", discover(bin.toString(), "1"));
        Path broken = Files.createDirectories(tmp.resolve("broken"));
        Files.writeString(broken.resolve("nvidia-smi"), "#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n");
        Files.setPosixFilePermissions(broken.resolve("nvidia-smi"), PosixFilePermissions.fromString("rwxr-xr-x"));
        assertEquals("{\"name\": \"gpu\", \"addresses\": []}", discover(broken.toString(), null),
                "a failing nvidia-smi: no GPUs, still valid JSON");
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
