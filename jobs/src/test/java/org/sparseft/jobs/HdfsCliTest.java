package org.sparseft.jobs;

import org.apache.hadoop.hdfs.protocol.HdfsConstants;
import org.apache.hadoop.security.UserGroupInformation;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparseft.data.TokenFiles;
import org.sparseft.io.Storage;
import org.sparseft.testing.MiniHdfs;

import java.nio.charset.StandardCharsets;
import java.security.PrivilegedExceptionAction;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI reading from and writing to a real HDFS by hdfs:// URI, and failing cleanly when HDFS refuses writes. */
class HdfsCliTest {
    static MiniHdfs hdfs;

    @BeforeAll
    static void start() throws Exception {
        hdfs = new MiniHdfs();
    }

    @AfterAll
    static void stop() throws Exception {
        hdfs.close();
    }

    @Test
    void tokenizeFromHdfsToHdfs() throws Exception {
        Storage s = hdfs.storage();
        String data = hdfs.uri() + "/corpus/dt=2026-11-23/part-0.txt";
        s.writeAtomically(data, "One document.\n\nAnother document here.\n".getBytes(StandardCharsets.UTF_8));
        String out = hdfs.uri() + "/tokens/blocks.safetensors";
        Cli r = Cli.run("tokenize", "--data", data, "--out", out, "--seqlen", "4", "--master", "local[2]");
        assertEquals(0, r.exitCode(), r.toString());
        assertEquals(9, TokenFiles.read(s, out, 257).size(), "38 byte tokens + 2 end-of-text = 40 -> 10 blocks of 4");
    }

    @Test
    void pretrainReadsWritesAndResumesOnHdfs() throws Exception {
        Storage s = hdfs.storage();
        String config = hdfs.uri() + "/configs/tiny.json";
        s.writeAtomically(config, org.sparseft.io.hf.HfConfig.of(org.sparseft.model.LlamaConfig.of(257, 16, 16, 32, 1,
                2, 1, true), "float32").toJsonText().getBytes(StandardCharsets.UTF_8));
        String data = hdfs.uri() + "/corpus/train.txt";
        s.writeAtomically(data, "A few sentences of training text, repeated.\n\n".repeat(20)
                .getBytes(StandardCharsets.UTF_8));
        String out = hdfs.uri() + "/models/tiny";
        String run = hdfs.uri() + "/runs/tiny";
        String[] args = {"pretrain", "--config", config, "--data", data, "--out", out, "--run", run, "--steps", "4",
                "--batch", "2", "--seqlen", "16", "--partitions", "2", "--checkpoint-every", "2", "--eval-every", "0",
                "--master", "local[2]"};
        Cli r = Cli.run(args);
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(s.exists(out + "/_SUCCESS") && s.exists(run + "/checkpoints/step-0000004/state.json"));
        assertEquals(4, new String(s.readAllBytes(run + "/metrics.jsonl"), StandardCharsets.UTF_8).lines().count());
        byte[] first = s.readAllBytes(out + "/model.safetensors");
        // Resuming a finished run trains nothing more and writes the same weights.
        String[] again = java.util.Arrays.copyOf(args, args.length + 2);
        again[args.length] = "--resume";
        again[args.length + 1] = "--force";
        Cli resumed = Cli.run(again);
        assertEquals(0, resumed.exitCode(), resumed.toString());
        assertTrue(resumed.err().contains("resuming from " + run + "/checkpoints/step-0000004"), resumed.err());
        org.junit.jupiter.api.Assertions.assertArrayEquals(first, s.readAllBytes(out + "/model.safetensors"));
    }

    @Test
    void safeModeRefusalIsARuntimeFailureAndLeavesNoOutput() throws Exception {
        Storage s = hdfs.storage();
        String data = hdfs.uri() + "/safe/in.txt";
        s.writeAtomically(data, "Some text to tokenize.\n".getBytes(StandardCharsets.UTF_8));
        hdfs.cluster().getFileSystem().setSafeMode(HdfsConstants.SafeModeAction.SAFEMODE_ENTER);
        try {
            String out = hdfs.uri() + "/safe/out.safetensors";
            Cli r = Cli.run("tokenize", "--data", data, "--out", out, "--seqlen", "4", "--master", "local[1]");
            assertEquals(3, r.exitCode(), r.toString());
            assertTrue(r.err().contains("safe mode"), r.err());
            assertFalse(s.exists(out));
        } finally {
            hdfs.cluster().getFileSystem().setSafeMode(HdfsConstants.SafeModeAction.SAFEMODE_LEAVE);
        }
    }

    @Test
    void aForcedRerunThatHdfsRefusesLeavesThePreviousOutputIntact() throws Exception {
        Storage s = hdfs.storage();
        String out = hdfs.uri() + "/intact/pruned";
        String[] prune = pruneCommand(hdfs.uri() + "/intact", out, "wanda");
        Cli first = Cli.run(prune);
        assertEquals(0, first.exitCode(), first.toString());
        byte[] weights = s.readAllBytes(out + "/model.safetensors");
        byte[] masks = s.readAllBytes(out + "/masks.safetensors");
        String[] forced = java.util.Arrays.copyOf(prune, prune.length + 1);
        forced[prune.length] = "--force";
        forced[java.util.Arrays.asList(prune).indexOf("0.5")] = "0.6";
        hdfs.cluster().getFileSystem().setSafeMode(HdfsConstants.SafeModeAction.SAFEMODE_ENTER);
        try {
            Cli refused = Cli.run(forced);
            assertEquals(3, refused.exitCode(), refused.toString());
            assertTrue(refused.err().contains("safe mode"), refused.err());
        } finally {
            hdfs.cluster().getFileSystem().setSafeMode(HdfsConstants.SafeModeAction.SAFEMODE_LEAVE);
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(weights, s.readAllBytes(out + "/model.safetensors"),
                "the earlier output is as it was");
        org.junit.jupiter.api.Assertions.assertArrayEquals(masks, s.readAllBytes(out + "/masks.safetensors"));
        assertTrue(s.exists(out + "/_SUCCESS"));
        assertEquals(List.of("_SUCCESS", "config.json", "masks.safetensors", "model.safetensors", "sparsity.json",
                "tokenizer.json"), s.list(out).stream().sorted().toList(), "nothing added or left behind");
    }
    /** Writes a tiny model and calibration ids under {@code dir}; returns a command pruning it to half sparsity. */
    private static String[] pruneCommand(String dir, String out, String method) throws Exception {
        String model = dir + "/model";
        org.sparseft.testing.TinyCheckpoints.write(hdfs.storage(), model, org.sparseft.testing.TinyCheckpoints.llama(),
                org.sparseft.io.safetensors.DType.F32, 0, 3);
        String ids = dir + "/ids.txt";
        hdfs.storage().writeAtomically(ids, "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n".repeat(4)
                .getBytes(StandardCharsets.UTF_8));
        return new String[] {"prune", "--model", model, "--out", out, "--tokens", ids, "--seqlen", "8", "--nsamples",
                "2", "--method", method, "--sparsity", "0.5", "--master", "local[1]"};
    }

    /** Runs the CLI as another HDFS user (the test JVM's own user is the MiniDFSCluster's superuser). */
    private static Cli runAs(String user, String... args) throws Exception {
        return UserGroupInformation.createRemoteUser(user).doAs((PrivilegedExceptionAction<Cli>) () -> Cli.run(args));
    }

    @Test
    void anOutputThisUserMayNotWriteIsRefusedBeforeAnyWork() throws Exception {
        Storage s = hdfs.storage();
        String data = hdfs.uri() + "/locked-in/in.txt";
        s.writeAtomically(data, "Some text to tokenize.\n".getBytes(StandardCharsets.UTF_8));
        s.mkdirs(hdfs.uri() + "/locked"); // the superuser's, rwxr-xr-x
        String out = hdfs.uri() + "/locked/sub/t.safetensors";
        Cli r = runAs("alice", "tokenize", "--data", data, "--out", out, "--seqlen", "4", "--master", "local[1]");
        assertEquals(2, r.exitCode(), r.toString());
        assertTrue(r.err().contains("--out " + out + ": cannot be written: no permission to write in") && r.err()
                .contains("user=alice"), r.err());
        assertFalse(r.err().contains("tokenizing"), "refused before reading any data: " + r.err());
        assertEquals(List.of(), s.list(hdfs.uri() + "/locked"));
        // a directory alice may not even enter: found out while looking for the nearest existing ancestor
        s.mkdirs(hdfs.uri() + "/private");
        hdfs.cluster().getFileSystem().setPermission(new org.apache.hadoop.fs.Path("/private"),
                new org.apache.hadoop.fs.permission.FsPermission((short) 0700));
        String hidden = hdfs.uri() + "/private/a/t.safetensors";
        Cli h = runAs("alice", "tokenize", "--data", data, "--out", hidden, "--seqlen", "4", "--master", "local[1]");
        assertEquals(2, h.exitCode(), h.toString());
        assertTrue(h.err().contains("--out " + hidden + ": cannot be written: no permission") && h.err()
                .contains("user=alice"), h.err());
        assertEquals(List.of(), s.list(hdfs.uri() + "/private"));
    }

    @Test
    void aStickyDirectoryRefusingTheReplacementIsARuntimeFailureAndKeepsTheEarlierOutput() throws Exception {
        Storage s = hdfs.storage();
        // a shared directory like HDFS's /tmp: anyone may write, only an entry's owner may move or delete it
        s.mkdirs(hdfs.uri() + "/shared");
        hdfs.cluster().getFileSystem().setPermission(new org.apache.hadoop.fs.Path("/shared"),
                new org.apache.hadoop.fs.permission.FsPermission((short) 01777));
        String out = hdfs.uri() + "/shared/pruned";
        String[] prune = pruneCommand(hdfs.uri() + "/sticky-in", out, "magnitude");
        Cli first = Cli.run(prune);
        assertEquals(0, first.exitCode(), first.toString());
        byte[] weights = s.readAllBytes(out + "/model.safetensors");
        String[] forced = java.util.Arrays.copyOf(prune, prune.length + 1);
        forced[prune.length] = "--force";
        Cli refused = runAs("bob", forced);
        assertEquals(3, refused.exitCode(), refused.toString());
        assertTrue(refused.err().contains("Permission denied") && refused.err().contains("sticky"), refused.err());
        org.junit.jupiter.api.Assertions.assertArrayEquals(weights, s.readAllBytes(out + "/model.safetensors"),
                "the earlier output is as it was");
        assertEquals(List.of("pruned"), s.list(hdfs.uri() + "/shared"), "bob's temporary output was removed");
    }
}
