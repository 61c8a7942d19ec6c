package org.sparseft.jobs;

import org.apache.hadoop.hdfs.protocol.HdfsConstants;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparseft.data.TokenFiles;
import org.sparseft.io.Storage;
import org.sparseft.testing.MiniHdfs;

import java.nio.charset.StandardCharsets;

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
}
