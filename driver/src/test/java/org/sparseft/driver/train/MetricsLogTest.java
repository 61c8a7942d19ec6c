package org.sparseft.driver.train;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.testing.MiniHdfs;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** metrics.jsonl: a resumed run keeps the lines up to its checkpoint and goes on writing, on HDFS too. */
class MetricsLogTest {
    @TempDir
    Path tmp;

    private static void writeSteps(MetricsLog log, int from, int to) throws Exception {
        for (int s = from; s <= to; s++) {
            log.write(MetricsLine.training(s, 1.0 / s, 0, 0, 0, 0, 0, 0, null, java.util.Map.of()));
        }
    }

    private static String steps(Storage storage, String path) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (String line : new String(storage.readAllBytes(path), StandardCharsets.UTF_8).split("\n")) {
            if (!line.isBlank()) {
                sb.append(line, line.indexOf(':') + 1, line.indexOf(',')).append(' ');
            }
        }
        return sb.toString().trim();
    }

    @Test
    void aResumeOnASingleDataNodeHdfsDropsTheLinesAfterTheCheckpointAndGoesOn() throws Exception {
        // A client with HDFS's default replication (3), as Spark's is, on one DataNode: appending to the old
        // file would need a pipeline of 3.
        try (MiniHdfs hdfs = new MiniHdfs()) {
            Storage storage = new HadoopStorage(new org.apache.hadoop.conf.Configuration());
            String path = hdfs.uri() + "/run/metrics.jsonl";
            try (MetricsLog first = new MetricsLog(storage, path, 0)) {
                writeSteps(first, 1, 6);
            }
            // a killed run's log: flushed line by line, never closed (its writer still holds the lease)
            org.apache.hadoop.conf.Configuration otherClient = new org.apache.hadoop.conf.Configuration();
            otherClient.setBoolean("fs.hdfs.impl.disable.cache", true);
            MetricsLog killed = new MetricsLog(new HadoopStorage(otherClient), path, 6);
            writeSteps(killed, 7, 9);
            try (MetricsLog resumed = new MetricsLog(storage, path, 8)) {
                writeSteps(resumed, 9, 10);
            }
            assertEquals("1 2 3 4 5 6 7 8 9 10", steps(storage, path), "every flushed line up to the checkpoint");
            try (MetricsLog fresh = new MetricsLog(storage, path, 0)) {
                writeSteps(fresh, 1, 2);
            }
            assertEquals("1 2", steps(storage, path), "a fresh start drops every earlier line");
        }
    }

    @Test
    void aCrashWhileTheFileWasReplacedLeavesTheKeptLinesInTheBackup() throws Exception {
        Storage storage = HadoopStorage.withDefaults();
        String path = tmp.resolve("metrics.jsonl").toString();
        try (MetricsLog first = new MetricsLog(storage, path, 0)) {
            writeSteps(first, 1, 6);
        }
        // what a crash after the backup was written and the file deleted leaves
        storage.writeAtomically(path + ".kept", "{\"step\":1,\"loss\":1}\n{\"step\":2,\"loss\":1}\n{\"step\":3,\"loss\":1}\n"
                .getBytes(StandardCharsets.UTF_8));
        storage.delete(path);
        try (MetricsLog resumed = new MetricsLog(storage, path, 2)) {
            writeSteps(resumed, 3, 4);
        }
        assertEquals("1 2 3 4", steps(storage, path));
        assertFalse(storage.exists(path + ".kept"), "the backup is gone once the file holds its lines");
    }

    @Test
    void linesKeepTheirFieldOrderAndLeaveOutWhatTheyDoNotHave() throws Exception {
        Storage storage = HadoopStorage.withDefaults();
        String path = tmp.resolve("order.jsonl").toString();
        java.util.Map<String, Double> figures = new java.util.LinkedHashMap<>();
        figures.put("mask_flip_rate", 0.25);
        figures.put("mask_flip_rate_initial", 0.5);
        try (MetricsLog log = new MetricsLog(storage, path, 0)) {
            log.write(MetricsLine.training(3, 2.5, 1e-3, 0.75, 1.5, 64.0, 1024, 2048, null, figures));
            log.write(MetricsLine.validation(3, 12.0, 2.484906649788));
        }
        assertEquals("{\"step\":3,\"loss\":2.5,\"lr\":0.001,\"grad_norm\":0.75,\"seconds\":1.5,\"tokens_per_s\":64.0,"
                + "\"bytes_broadcast\":1024,\"bytes_collected\":2048,\"mask_flip_rate\":0.25,"
                + "\"mask_flip_rate_initial\":0.5}\n{\"step\":3,\"val_ppl\":12.0,\"val_loss\":2.484906649788}\n",
                new String(storage.readAllBytes(path), StandardCharsets.UTF_8));
    }
}
