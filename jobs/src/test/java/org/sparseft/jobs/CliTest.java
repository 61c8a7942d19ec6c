package org.sparseft.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.data.TokenFiles;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.tokenizer.ByteLevelBpe;
import org.sparseft.testing.TinyCheckpoints;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CliTest {
    @TempDir
    Path tmp;

    @Test
    void everyCommandsHelpRendersWithoutFormatWarnings() {
        // picocli formats descriptions with String.format; a bare '%' makes it print the raw text and warn on stderr.
        java.io.PrintStream stderr = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        java.io.StringWriter help = new java.io.StringWriter();
        System.setErr(new java.io.PrintStream(captured, true));
        try {
            List<picocli.CommandLine> pending = new java.util.ArrayList<>(
                    List.of(Main.commandLine(new java.io.PrintWriter(help), new java.io.PrintWriter(help))));
            int rendered = 0;
            while (!pending.isEmpty()) {
                picocli.CommandLine c = pending.remove(pending.size() - 1);
                help.append(c.getUsageMessage());
                rendered++;
                pending.addAll(c.getSubcommands().values());
            }
            assertTrue(rendered > 20, "commands rendered: " + rendered);
        } finally {
            System.setErr(stderr);
        }
        String warnings = captured.toString();
        assertFalse(warnings.contains("picocli WARN"), warnings);
        assertFalse(help.toString().contains("%n"), "unformatted help text");
    }

    @Test
    void versionNamesTheBackendAndTheLibraries() {
        Cli v = Cli.run("--version");
        assertEquals(0, v.exitCode(), v.toString());
        String[] lines = v.out().split("\\R");
        assertTrue(lines[0].startsWith("sparseft "), v.out());
        for (String part : List.of("java ", "spark ", "hadoop ", "nd4j ", "nd4j_backend CpuBackend")) {
            assertTrue(lines[1].contains(part), part + " in " + v.out());
        }
    }

    @Test
    void helpListsEveryCommandAndEachCommandHasHelp() {
        Cli top = Cli.run("--help");
        assertEquals(0, top.exitCode(), top.toString());
        for (String c : List.of("data", "tokenize", "inspect", "demo")) {
            assertTrue(top.out().contains(c), c);
            Cli sub = Cli.run(c, "--help");
            assertEquals(0, sub.exitCode(), sub.toString());
            assertTrue(sub.out().startsWith("Usage: sparseft " + c), sub.out());
        }
        Cli brown = Cli.run("data", "brown", "--help");
        assertTrue(brown.out().contains("--seed") && brown.out().contains("Default: 1961"), brown.out());
        Cli tok = Cli.run("tokenize", "--help");
        assertTrue(tok.out().contains("--master") && tok.out().contains("--conf") && tok.out().contains("Default: 256"));
    }

    @Test
    void usageErrorsExitWithTwo() {
        Cli none = Cli.run();
        assertEquals(2, none.exitCode(), none.toString());
        Cli unknown = Cli.run("tokenize", "--data", "x", "--out", "y.safetensors", "--bogus");
        assertEquals(2, unknown.exitCode());
        assertTrue(unknown.err().contains("--bogus"), unknown.err());
        Cli notANumber = Cli.run("tokenize", "--data", "x", "--out", "y.safetensors", "--seqlen", "many");
        assertEquals(2, notANumber.exitCode());
        assertTrue(notANumber.err().contains("--seqlen"), notANumber.err());
        Cli wrongExt = Cli.run("tokenize", "--data", "x", "--out", "y.bin");
        assertEquals(2, wrongExt.exitCode());
        assertTrue(wrongExt.err().contains("--out y.bin") && wrongExt.err().contains(".safetensors"), wrongExt.err());
        for (String[] bad : new String[][] {{"--reps", "0"}, {"--warmup", "0"}}) { // refused before any timing runs
            Cli bench = Cli.run("bench", "engine", bad[0], bad[1]);
            assertEquals(2, bench.exitCode(), bench.toString());
            assertTrue(bench.err().contains(bad[0] + " 0"), bench.err());
        }
    }

    @Test
    void tokenizeJsonLinesThroughTheCli() throws Exception {
        Path data = tmp.resolve("docs.jsonl");
        Files.writeString(data, "{\"text\": \"first document\"}\n{\"text\": \"second one, longer than the first\"}\n");
        Path out = tmp.resolve("blocks.safetensors");
        Cli r = Cli.run("tokenize", "--data", data.toString(), "--out", out.toString(), "--seqlen", "8",
                "--master", "local[2]");
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("blocks      6 x 8 tokens"), r.out());
        List<int[]> blocks = TokenFiles.read(HadoopStorage.withDefaults(), out.toString(), 257);
        ByteLevelBpe b = ByteLevelBpe.bytes();
        assertArrayEquals(b.encode("first do"), blocks.get(0));
        assertEquals("cument<|endoftext|>s", b.decode(blocks.get(1)), "documents joined by end-of-text");

        Cli again = Cli.run("tokenize", "--data", data.toString(), "--out", out.toString(), "--seqlen", "8");
        assertEquals(2, again.exitCode(), "refuses to overwrite");
        assertTrue(again.err().contains("already exists"), again.err());
    }

    @Test
    void tokenFilesAreReCutAndCheckedAgainstTheVocabulary() throws Exception {
        Path ids = tmp.resolve("ids.txt");
        Files.writeString(ids, "1 2 3 4 5\n6 7\n8 9 10\n");
        Path out = tmp.resolve("recut.safetensors");
        Cli r = Cli.run("tokenize", "--tokens", ids.toString(), "--out", out.toString(), "--seqlen", "3",
                "--master", "local[2]");
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("sequences   3"), r.out());
        List<int[]> blocks = TokenFiles.read(HadoopStorage.withDefaults(), out.toString(), 257);
        assertEquals(3, blocks.size());
        assertArrayEquals(new int[] {4, 5, 6}, blocks.get(1), "sequences joined in order, then cut");

        Files.writeString(ids, "1 2\n3 300\n");
        Cli bad = Cli.run("tokenize", "--tokens", ids.toString(), "--out", tmp.resolve("x.safetensors").toString(),
                "--seqlen", "2");
        assertEquals(2, bad.exitCode(), bad.toString());
        assertTrue(bad.err().contains("ids.txt line 2") && bad.err().contains("id 300"), bad.err());
    }

    @Test
    void exactlyOneInputIsRequired() {
        Cli both = Cli.run("tokenize", "--data", "a.txt", "--tokens", "b.txt", "--out", "c.safetensors");
        assertEquals(2, both.exitCode());
        assertTrue(both.err().contains("mutually exclusive"), both.err());
        Cli neither = Cli.run("tokenize", "--out", "c.safetensors");
        assertEquals(2, neither.exitCode());
        assertTrue(neither.err().contains("--data") && neither.err().contains("--tokens"), neither.err());
    }

    @Test
    void missingDataPathIsBadInput() {
        Path absent = tmp.resolve("absent");
        Cli r = Cli.run("tokenize", "--data", absent.toString(), "--out", tmp.resolve("o.safetensors").toString());
        assertEquals(2, r.exitCode(), r.toString());
        assertTrue(r.err().contains(absent.toString()) && r.err().contains("does not exist"), r.err());
        assertFalse(Files.exists(tmp.resolve("o.safetensors")), "no output");
    }

    @Test
    void inspectPrintsTensorsAndSparsity() throws Exception {
        Path model = tmp.resolve("model");
        TinyCheckpoints.write(HadoopStorage.withDefaults(), model.toString(), TinyCheckpoints.llama(), DType.BF16, 0, 3);
        Cli r = Cli.run("inspect", "--model", model.toString());
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("(llama), 2 layers"), r.out());
        assertTrue(r.out().contains("model.layers.1.mlp.down_proj.weight") && r.out().contains("BF16"), r.out());
        assertTrue(r.out().contains("[16, 40]"), r.out());

        Files.delete(model.resolve("config.json"));
        Cli bad = Cli.run("inspect", "--model", model.toString());
        assertEquals(2, bad.exitCode(), bad.toString());
        assertTrue(bad.err().contains("missing config.json"), bad.err());
    }
}
