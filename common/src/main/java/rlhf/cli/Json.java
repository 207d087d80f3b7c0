package rlhf.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Rows as Jackson trees. A row is parsed into an {@link ObjectNode} that keeps every field in
 * its order, the command adds its fields (replacing any of the same name) and the row is written
 * back: every input field survives. Decimals are read as BigDecimal so that they are written back
 * with the digits they had.
 */
final class Json {

    static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    private Json() {
    }

    /** The row's JSON object; an error naming the row when the line is not one. */
    static ObjectNode parse(InputRow row) {
        JsonNode n;
        try {
            n = MAPPER.readTree(row.text());
        } catch (JsonProcessingException e) {
            throw new RowException(row, "not valid JSON: " + e.getOriginalMessage());
        }
        if (n == null || !n.isObject()) {
            throw new RowException(row, "expected a JSON object {...}, found " + abbreviate(row.text()));
        }
        return (ObjectNode) n;
    }

    static boolean has(ObjectNode o, String field) {
        JsonNode v = o.get(field);
        return v != null && !v.isNull();
    }

    /** The string field {@code field}; an error naming the row and the field when missing or not a string. */
    static String string(ObjectNode o, String field, InputRow row) {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) {
            throw new RowException(row, "no \"" + field + "\" field (fields found: " + fieldNames(o) + ")");
        }
        if (!v.isTextual()) {
            throw new RowException(row, "field \"" + field + "\" must be a string, found " + abbreviate(v.toString()));
        }
        return v.textValue();
    }

    static ArrayNode ints(ObjectNode o, String field, int[] v, int from, int to) {
        ArrayNode a = o.putArray(field);
        for (int i = from; i < to; i++) {
            a.add(v[i]);
        }
        return a;
    }

    static String write(ObjectNode o) {
        try {
            return MAPPER.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static String fieldNames(ObjectNode o) {
        StringBuilder sb = new StringBuilder();
        o.fieldNames().forEachRemaining(n -> sb.append(sb.length() == 0 ? "" : ", ").append('"').append(n).append('"'));
        return sb.length() == 0 ? "none" : sb.toString();
    }

    static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }
}
