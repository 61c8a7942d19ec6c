package org.sparseft.driver.train;

import org.sparseft.io.Json;
import org.sparseft.io.Storage;

import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code <run>/metrics.jsonl}: one JSON object per line, appended and flushed as training goes, so a scheduler or a
 * person can follow a run while it lasts. Every line carries {@code step}; a resumed run first drops the lines an
 * interrupted run wrote after its last checkpoint, so the file reads as one uninterrupted run.
 */
public final class MetricsLog implements Closeable {
    private final Storage storage;
    private final String path;
    private final OutputStream out;
    /** Where the file system cannot append (object stores): the lines so far, rewritten whole at each write. */
    private final StringBuilder rewritten;

    /**
     * @param keepUpTo lines of steps up to this one are kept (a resume from that step); 0 starts the file afresh
     */
    public MetricsLog(Storage storage, String path, int keepUpTo) throws IOException {
        this.storage = storage;
        this.path = path;
        // A crash while an earlier start replaced the file left the lines to keep here.
        String backup = path + ".kept";
        String source = storage.exists(backup) ? backup : path;
        List<String> kept = new ArrayList<>();
        if (keepUpTo > 0 && storage.exists(source)) {
            for (String line : new String(storage.readAllBytes(source), StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank() && stepOf(line) <= keepUpTo) {
                    kept.add(line);
                }
            }
        }
        byte[] keptBytes = kept.isEmpty() ? new byte[0]
                : (String.join("\n", kept) + "\n").getBytes(StandardCharsets.UTF_8);
        if (!kept.isEmpty() && !source.equals(backup)) {
            storage.writeAtomically(backup, keptBytes);
        }
        // Never append to an earlier file: on HDFS, reopening its last block needs as many DataNodes as its
        // replication (so it fails on small clusters), and a killed run may still hold its lease. A new file
        // written from the start has neither problem.
        if (storage.exists(path)) {
            storage.delete(path);
        }
        OutputStream appender;
        StringBuilder whole = null;
        try {
            appender = storage.append(path);
            appender.write(keptBytes);
            appender.flush();
        } catch (UnsupportedOperationException e) {
            appender = null;
            whole = new StringBuilder();
            for (String line : kept) {
                whole.append(line).append('\n');
            }
            storage.writeAtomically(path, keptBytes);
        }
        if (storage.exists(backup)) {
            storage.delete(backup);
        }
        this.out = appender;
        this.rewritten = whole;
    }

    private static int stepOf(String line) {
        try {
            return Json.MAPPER.readTree(line).path("step").asInt(Integer.MAX_VALUE);
        } catch (IOException e) {
            return Integer.MAX_VALUE; // a torn last line of a killed run
        }
    }

    /** Appends one line and flushes it. */
    public synchronized void write(MetricsLine line) throws IOException {
        String text = Json.MAPPER.writeValueAsString(line) + "\n";
        if (out == null) {
            rewritten.append(text);
            storage.writeAtomically(path, rewritten.toString().getBytes(StandardCharsets.UTF_8));
            return;
        }
        out.write(text.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    public String path() {
        return path;
    }

    @Override
    public void close() throws IOException {
        if (out != null) {
            out.close();
        }
    }
}
