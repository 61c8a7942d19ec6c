package org.sparseft.jobs.report;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import org.sparseft.BadInputException;
import org.sparseft.io.Json;

import java.util.ArrayList;
import java.util.List;

/** The JSON objects of a metrics.jsonl text, one per non-blank line; a line that is not JSON is a bad input. */
final class MetricsLines {
    private MetricsLines() {
    }

    static List<JsonNode> parse(String jsonl, String source) {
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
