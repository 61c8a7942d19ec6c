package org.sparseft.driver.train;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import org.sparseft.BadInputException;
import org.sparseft.io.Json;

import java.util.ArrayList;
import java.util.List;

/**
 * Reading {@code metrics.jsonl} ({@link MetricsLog} writes it): the JSON objects of its text, one per non-blank line,
 * kept as trees because a line's fields depend on the run (an objective's own figures); a line that is not JSON is a
 * bad input naming the file and line.
 */
public final class MetricsLines {
    private MetricsLines() {
    }

    /** The lines of {@code jsonl}, read from {@code source} (named in messages). */
    public static List<JsonNode> parse(String jsonl, String source) {
        List<JsonNode> lines = new ArrayList<>();
        int lineNo = 0;
        for (String line : jsonl.split("\n")) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            try {
                lines.add(Json.MAPPER.readTree(line));
            } catch (JacksonException e) {
                throw BadInputException.at(source, "line " + lineNo + " is not JSON: " + e.getOriginalMessage());
            }
        }
        return lines;
    }
}
