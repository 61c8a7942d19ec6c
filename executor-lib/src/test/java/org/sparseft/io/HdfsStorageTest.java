package org.sparseft.io;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.testing.MiniHdfs;
import org.sparseft.testing.TinyCheckpoints;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Checkpoints written to and read from a real in-JVM HDFS through hdfs:// URIs. */
class HdfsStorageTest {
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
    void shardedCheckpointRoundTripsOnHdfs() throws Exception {
        Storage storage = hdfs.storage();
        String dir = hdfs.uri() + "/models/llama";
        TinyCheckpoints.write(storage, dir, TinyCheckpoints.llama(), DType.F16, 5000, 11);
        assertTrue(storage.exists(dir + "/_SUCCESS"));
        assertFalse(storage.list(hdfs.uri() + "/models").stream().anyMatch(n -> n.contains(AtomicOutput.TEMP_MARK)),
                "temporary directory renamed away");
        try (HfCheckpoint ckpt = HfCheckpoint.open(storage, dir)) {
            ckpt.validateAgainstConfig();
            assertTrue(ckpt.shardFiles().size() > 1);
            List<SafetensorsWriter.Entry> expected = TinyCheckpoints.randomTensors(TinyCheckpoints.llama(), DType.F16, 11);
            for (SafetensorsWriter.Entry e : expected) {
                assertEquals(e.bytes(), ckpt.rawBytes(e.name()), e.name());
            }
        }
    }

    @Test
    void hdfsKeepsContentChecksumsThatTheCheckpointHashUses() throws Exception {
        Storage storage = hdfs.storage();
        TinyCheckpoints.write(storage, hdfs.uri() + "/h/a", TinyCheckpoints.llama(), DType.F32, 0, 1);
        TinyCheckpoints.write(storage, hdfs.uri() + "/h/b", TinyCheckpoints.llama(), DType.F32, 0, 1);
        TinyCheckpoints.write(storage, hdfs.uri() + "/h/c", TinyCheckpoints.llama(), DType.F32, 0, 2);
        assertTrue(storage.checksum(hdfs.uri() + "/h/a/model.safetensors").isPresent(), "HDFS has file checksums");
        try (HfCheckpoint a = HfCheckpoint.open(storage, hdfs.uri() + "/h/a");
             HfCheckpoint b = HfCheckpoint.open(storage, hdfs.uri() + "/h/b");
             HfCheckpoint c = HfCheckpoint.open(storage, hdfs.uri() + "/h/c")) {
            assertEquals(a.contentHash(), b.contentHash());
            assertFalse(a.contentHash().equals(c.contentHash()));
        }
    }

    @Test
    void metricsStyleAppendsAreVisibleAfterFlush() throws Exception {
        Storage storage = hdfs.storage();
        String path = hdfs.uri() + "/append/lines.jsonl";
        try (var out = storage.append(path)) {
            out.write("one\n".getBytes());
            out.flush();
            assertEquals("one\n", new String(storage.readAllBytes(path)), "flushed line readable while open");
        }
        try (var out = storage.append(path)) {
            out.write("two\n".getBytes());
        }
        assertEquals("one\ntwo\n", new String(storage.readAllBytes(path)));
    }

    @Test
    void aDirectoryIsNeverReplacedByAFile() throws Exception {
        Storage storage = hdfs.storage();
        String dir = hdfs.uri() + "/precious";
        storage.writeAtomically(dir + "/keep.txt", "data".getBytes());
        org.sparseft.BadInputException e = org.junit.jupiter.api.Assertions.assertThrows(
                org.sparseft.BadInputException.class, () -> storage.writeAtomically(dir, "x".getBytes()));
        assertTrue(e.getMessage().contains("is a directory"), e.getMessage());
        assertEquals("data", new String(storage.readAllBytes(dir + "/keep.txt")));
    }

    @Test
    void replacingAFileIsAtomicOnHdfs() throws Exception {
        Storage storage = hdfs.storage();
        String path = hdfs.uri() + "/files/a.txt";
        storage.writeAtomically(path, "one".getBytes());
        storage.writeAtomically(path, "two".getBytes());
        assertEquals("two", new String(storage.readAllBytes(path)));
        assertEquals(List.of("a.txt"), storage.list(hdfs.uri() + "/files"));
        assertEquals(path, storage.qualify(path));
    }
}
