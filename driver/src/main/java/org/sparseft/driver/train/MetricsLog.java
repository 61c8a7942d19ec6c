package org.sparseft.driver.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
    private static final ObjectMapper JSON = new ObjectMapper();

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
        List<String> kept = new ArrayList<>();
        if (storage.exists(path)) {
            if (keepUpTo > 0) {
                for (String line : new String(storage.readAllBytes(path), StandardCharsets.UTF_8).split("\n")) {
                    if (!line.isBlank() && stepOf(line) <= keepUpTo) {
                        kept.add(line);
                    }
                }
            }
            storage.writeAtomically(path, kept.isEmpty() ? new byte[0]
                    : (String.join("\n", kept) + "\n").getBytes(StandardCharsets.UTF_8));
        }
        OutputStream appender;
        StringBuilder whole = null;
        try {
            appender = storage.append(path);
        } catch (UnsupportedOperationException e) {
            appender = null;
            whole = new StringBuilder();
            for (String line : kept) {
                whole.append(line).append('\n');
            }
        }
        this.out = appender;
        this.rewritten = whole;
    }

    private static int stepOf(String line) {
        try {
            return JSON.readTree(line).path("step").asInt(Integer.MAX_VALUE);
        } catch (IOException e) {
            return Integer.MAX_VALUE; // a torn last line of a killed run
        }
    }

    public ObjectNode line(int step) {
        return JSON.createObjectNode().put("step", step);
    }

    public synchronized void write(ObjectNode line) throws IOException {
        String text = JSON.writeValueAsString(line) + "\n";
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
