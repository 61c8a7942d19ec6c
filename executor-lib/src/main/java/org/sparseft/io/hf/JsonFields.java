package org.sparseft.io.hf;

import com.fasterxml.jackson.databind.JsonNode;
import org.sparseft.BadInputException;

/** Typed, strict access to fields of a JSON object, with messages that name the file and the field. */
final class JsonFields {
    private final JsonNode node;
    private final String source;
    private final String prefix;

    JsonFields(JsonNode node, String source) {
        this(node, source, "");
    }

    /** The fields of a nested object, named in messages as {@code prefix.field}. */
    JsonFields(JsonNode node, String source, String prefix) {
        this.node = node;
        this.source = source;
        this.prefix = prefix;
    }

    /** The nested object {@code field}, or null when it is absent or null. */
    JsonFields optionalObject(String field) {
        JsonNode v = present(field);
        if (v == null) {
            return null;
        }
        if (!v.isObject()) {
            throw wrong(field, "an object or null", v);
        }
        return new JsonFields(v, source, prefix + field + ".");
    }

    private BadInputException wrong(String field, String expected, JsonNode value) {
        return BadInputException.at(source, "field '" + prefix + field + "' must be " + expected + ", was "
                + (value == null ? "missing" : value.toString()));
    }

    private JsonNode present(String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v;
    }

    boolean has(String field) {
        return present(field) != null;
    }

    /** Whether the field is there with the value null (which some configs use for "off"). */
    boolean isNull(String field) {
        return node.has(field) && node.get(field).isNull();
    }

    double requiredDouble(String field) {
        JsonNode v = present(field);
        if (v == null || !v.isNumber()) {
            throw wrong(field, "a number", node.get(field));
        }
        return v.doubleValue();
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

    /** A list of strings, or null when the field is absent or null. */
    java.util.List<String> optionalStringList(String field) {
        JsonNode v = present(field);
        if (v == null) {
            return null;
        }
        if (!v.isArray()) {
            throw wrong(field, "a list of strings", v);
        }
        java.util.List<String> out = new java.util.ArrayList<>();
        for (JsonNode e : v) {
            if (!e.isTextual()) {
                throw wrong(field, "a list of strings", v);
            }
            out.add(e.textValue());
        }
        return out;
    }

    String optionalString(String field, String fallback) {
        return has(field) ? requiredString(field) : fallback;
    }
}
