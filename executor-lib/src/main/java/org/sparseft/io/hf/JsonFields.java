package org.sparseft.io.hf;

import com.fasterxml.jackson.databind.JsonNode;
import org.sparseft.BadInputException;

/** Typed, strict access to fields of a JSON object, with messages that name the file and the field. */
final class JsonFields {
    private final JsonNode node;
    private final String source;

    JsonFields(JsonNode node, String source) {
        this.node = node;
        this.source = source;
    }

    private BadInputException wrong(String field, String expected, JsonNode value) {
        return BadInputException.at(source, "field '" + field + "' must be " + expected + ", was "
                + (value == null ? "missing" : value.toString()));
    }

    private JsonNode present(String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v;
    }

    boolean has(String field) {
        return present(field) != null;
    }

    int requiredInt(String field) {
        JsonNode v = present(field);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt()) {
            throw wrong(field, "an integer", node.get(field));
        }
        return v.intValue();
    }

    int optionalInt(String field, int fallback) {
        return has(field) ? requiredInt(field) : fallback;
    }

    double optionalDouble(String field, double fallback) {
        JsonNode v = present(field);
        if (v == null) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw wrong(field, "a number", v);
        }
        return v.doubleValue();
    }

    boolean optionalBoolean(String field, boolean fallback) {
        JsonNode v = present(field);
        if (v == null) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw wrong(field, "true or false", v);
        }
        return v.booleanValue();
    }

    String requiredString(String field) {
        JsonNode v = present(field);
        if (v == null || !v.isTextual()) {
            throw wrong(field, "a string", node.get(field));
        }
        return v.textValue();
    }

    String optionalString(String field, String fallback) {
        return has(field) ? requiredString(field) : fallback;
    }
}
