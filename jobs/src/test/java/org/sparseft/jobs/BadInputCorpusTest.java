package org.sparseft.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every entry of the bad-input corpus, run through the real command-line entry point: exit code 2, a message naming
 * what was wrong, no output path created, and every input file (SHA-256 of its content) as it was.
 */
class BadInputCorpusTest {
    static final Path CORPUS = Path.of("src/test/resources/bad-inputs");
    @TempDir
    Path tmp;

    static Stream<String> cases() throws IOException {
        try (Stream<Path> s = Files.list(CORPUS)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList().stream();
        }
    }

    @Test
    void corpusHasAtLeastFortyCases() throws IOException {
        assertTrue(cases().count() >= 40, "cases: " + cases().count());
    }

    @Test
    void corpusIsExactlyWhatItsGeneratorWrites() throws IOException {
        Path fresh = tmp.resolve("generated");
        BadInputCorpus.write(fresh);
        assertEquals(listing(fresh), listing(CORPUS), "file lists (regenerate the corpus, see BadInputCorpus)");
        for (String f : listing(fresh)) {
            assertArrayEquals(Files.readAllBytes(fresh.resolve(f)), Files.readAllBytes(CORPUS.resolve(f)), f);
        }
    }

    private static List<String> listing(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).map(p -> root.relativize(p).toString()).sorted().toList();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void refusedWithExitTwoANamedMessageAndNoOutput(String name) throws IOException {
        Path caseDir = tmp.resolve("case");
        copy(CORPUS.resolve(name), caseDir);
        Path out = tmp.resolve("out");
        String cmd = Files.readString(caseDir.resolve("cmd")).strip()
                .replace("@CASE@", caseDir.toString()).replace("@OUT@", out.toString());
        List<String> args = new ArrayList<>(Arrays.asList(cmd.split(" ")));
        if (args.get(0).equals("tokenize")) {
            args.addAll(List.of("--master", "local[1]"));
        }
        Map<String, String> before = snapshot(caseDir);
        Cli r = Cli.run(args.toArray(String[]::new));
        assertEquals(2, r.exitCode(), r.toString());
        for (String expected : Files.readAllLines(caseDir.resolve("expect"))) {
            if (!expected.isBlank()) {
                assertTrue(r.err().contains(expected), "'" + expected + "' in:\n" + r.err());
            }
        }
        assertFalse(Files.exists(out), "no output path created: " + out);
        // inputs untouched: every file's content as it was, nothing added, deleted or renamed (temporary files included)
        assertEquals(before, snapshot(caseDir), "the case directory after the run");
    }

    /** Every file and directory under {@code root} by relative path: a directory as "dir", a file as its SHA-256. */
    static Map<String, String> snapshot(Path root) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                String key = root.relativize(p).toString();
                out.put(key.isEmpty() ? "." : key, Files.isDirectory(p) ? "dir" : sha256(p));
            }
        }
        return out;
    }

    private static String sha256(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path dest = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(dest);
                } else {
                    Files.copy(p, dest);
                }
            }
        }
    }
}
