package org.sparseft.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every entry of the bad-input corpus, run through the real command-line entry point: exit code 2, a message naming
 * what was wrong, and nothing written.
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
        Cli r = Cli.run(args.toArray(String[]::new));
        assertEquals(2, r.exitCode(), r.toString());
        for (String expected : Files.readAllLines(caseDir.resolve("expect"))) {
            if (!expected.isBlank()) {
                assertTrue(r.err().contains(expected), "'" + expected + "' in:\n" + r.err());
            }
        }
        assertTrue(!Files.exists(out) || isEmpty(out), "no output written: " + out);
        try (Stream<Path> before = Files.walk(CORPUS.resolve(name)); Stream<Path> after = Files.walk(caseDir)) {
            assertEquals(before.filter(Files::isRegularFile).count(), after.filter(Files::isRegularFile).count(),
                    "inputs untouched: nothing deleted or added in the case directory");
        }
        try (Stream<Path> left = Files.walk(caseDir)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().contains(".inprogress-")), "no temporary files");
        }
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
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
