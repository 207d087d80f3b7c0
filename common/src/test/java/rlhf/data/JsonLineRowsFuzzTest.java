package rlhf.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;
import rlhf.io.TextFiles;
import rlhf.testing.Fuzz;
import rlhf.testing.Mutate;
import scala.collection.Seq;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Seeded fuzzing of the strict JSON-lines rows: 10,000 mutated lines holding every column kind
 * (strings, a number, arrays of strings and of numbers, chat messages) with values retyped, set to
 * edge values, nulled, removed or renamed, array elements of the wrong type, broken messages, deep
 * nesting, trailing content, truncation, byte flips, invalid UTF-8 and blank lines, each parsed by
 * the function {@link JsonLineRows#read} maps partitions with (driven directly, no Spark needed).
 * Proves that each line is either a bad row whose problem names what is wrong (invalid UTF-8,
 * malformed JSON, or the column), or skipped when blank, or a row with exactly the values an
 * independent Jackson reading of the line gives under the per-row type rules; and that nothing
 * else is ever thrown, since one exception fails the whole Spark task.
 */
class JsonLineRowsFuzzTest {

    private static final long SEED = 20261210L;
    private static final int CASES = 10_000;
    private static final String FILE = "file:/data/rows.jsonl";

    /** Our column names; "prompt" is read from the file's "question". */
    private static final List<String> OURS = List.of("prompt", "chosen", "margin", "responses", "ranking", "messages");
    private static final Map<String, String> THEIRS = Map.of("prompt", "question");

    /** One JSON value per line: Jackson's default, refusing what follows it on the line. */
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    @Test
    void everyMutatedLineIsABadRowNamingItsProblemOrTheRowJacksonReadsUnderTheTypeRules() throws Exception {
        JsonLineRows.Parse parse = JsonLineRows.parser(OURS, THEIRS, "_problem", "_file");
        assertEquals(Fuzz.Outcome.LOADED, check(parse, Mutate.utf8(validLine(new Random(1)).toString())));
        Fuzz.run("rows", SEED, CASES, (caseNo, r) -> check(parse, mutate(validLine(r), r)));
    }

    /** A valid row with random values of the right types, and a field no column reads. */
    private static ObjectNode validLine(Random r) {
        ObjectNode o = NODES.objectNode();
        o.put("question", Mutate.pick(r, "What is 2+2?", "\u00e9t\u00e9 \u4e2d\ud83d\ude00", "tab\t\"quoted\"\\", ""));
        o.put("chosen", "answer " + r.nextInt(100));
        o.set("margin", r.nextBoolean() ? NODES.numberNode(r.nextInt(10)) : NODES.numberNode(r.nextDouble()));
        o.set("responses", NODES.arrayNode().add("a").add("b").add(r.nextBoolean() ? NODES.nullNode() : NODES.textNode("c")));
        o.set("ranking", NODES.arrayNode().add(2).add(0.5).add(1L << 40));
        ArrayNode messages = o.putArray("messages");
        messages.addObject().put("role", "user").put("content", "hi");
        messages.addObject().put("role", "assistant").putNull("content");
        o.put("extra", r.nextInt(5));
        return o;
    }

    private static byte[] mutate(ObjectNode o, Random r) {
        String[] keys = {"question", "chosen", "margin", "responses", "ranking", "messages", "prompt"};
        switch (r.nextInt(14)) {
            case 0, 1 -> Mutate.editObject(o, r);
            case 2, 3 -> {
                String key = Mutate.pick(r, keys);
                JsonNode old = o.get(key);
                o.set(key, old != null && r.nextBoolean() ? Mutate.retype(old, r) : Mutate.anyValue(r));
            }
            case 4 -> {
                ArrayNode a = (ArrayNode) o.get(Mutate.pick(r, "responses", "ranking", "messages"));
                a.set(r.nextInt(a.size()), Mutate.anyValue(r));
            }
            case 5 -> {
                ObjectNode m = (ObjectNode) o.get("messages").get(r.nextInt(2));
                if (r.nextBoolean()) {
                    Mutate.editObject(m, r);
                } else {
                    m.set(Mutate.pick(r, "role", "content"), Mutate.anyValue(r));
                }
            }
            case 6 -> {
                return Mutate.utf8(Mutate.withDuplicateKey(o, r));
            }
            case 7, 8, 9 -> {
                return Mutate.bytes(Mutate.utf8(o.toString()), r);
            }
            case 10 -> {
                return Mutate.utf8(Mutate.pick(r, o + " " + o, o + "x", o + ",", o + " ", " \t" + o, "[" + o + "]"));
            }
            case 11 -> {
                return Mutate.utf8(Mutate.pick(r, "", " ", "\t", "\u00a0", "\u2028", "null", "1", "\"s\"", "{}", "{",
                        "}", "[]"));
            }
            case 12 -> {
                String deep = Mutate.deepArray(Mutate.pick(r, 10, 999, 1001, 5000));
                o.set("chosen", null);
                return Mutate.utf8(r.nextBoolean() ? o.toString().replace("null", deep) : deep);
            }
            default -> {
                // JSON escapes of a lone surrogate, NUL, a BOM and a line separator inside a string
                o.put(Mutate.pick(r, "question", "chosen"), "@@");
                return Mutate.utf8(o.toString().replace("@@", Mutate.pick(r, "\\ud800", "\\u0000", "\\ufeff",
                        "\\u2028", "\\udc00\\ud800")));
            }
        }
        return Mutate.utf8(o.toString());
    }

    /** Parses one line as a one-line partition and checks the outcome against the reference reading. */
    private static Fuzz.Outcome check(JsonLineRows.Parse parse, byte[] line) throws Exception {
        Object expected = expected(line);
        Iterator<Row> out = parse.call(List.of(RowFactory.create(line, FILE)).iterator());
        if (expected == null) {
            if (out.hasNext()) {
                throw new AssertionError("a blank line gave a row: " + out.next());
            }
            return Fuzz.Outcome.LOADED;
        }
        Row row = out.next();
        if (out.hasNext()) {
            throw new AssertionError("one line gave two rows");
        }
        int n = OURS.size();
        assertEquals(FILE, row.get(n + 1), "file column");
        String problem = (String) row.get(n);
        if (expected instanceof Problem p) {
            if (problem == null || !problem.startsWith(p.startsWith())) {
                throw new AssertionError("expected a bad row starting '" + p.startsWith() + "', found " + problem
                        + " in " + row);
            }
            return Fuzz.Outcome.REFUSED;
        }
        if (problem != null) {
            throw new AssertionError("a good row was refused: " + problem);
        }
        List<Object> actual = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            actual.add(javaValue(row.get(i)));
        }
        assertEquals(expected, actual, "row values");
        return Fuzz.Outcome.LOADED;
    }

    /** Spark's external values as plain Java: a Seq as a List, a message Row as [role, content]. */
    private static Object javaValue(Object v) {
        if (v instanceof Seq<?> s) {
            List<Object> out = new ArrayList<>();
            for (Object e : CollectionConverters.asJava(s)) {
                out.add(javaValue(e));
            }
            return out;
        }
        if (v instanceof Row m) {
            return Arrays.asList(m.get(0), m.get(1));
        }
        return v;
    }

    // ---------------------------------------------------------------- the reference reading

    /** A bad row whose problem starts with this. */
    private record Problem(String startsWith) {
    }

    /** null for a blank line, a {@link Problem}, or the row's values as a List. */
    private static Object expected(byte[] line) {
        String text = new TextFiles.StrictUtf8().decode(line);
        if (text == null) {
            return new Problem("invalid UTF-8");
        }
        if (text.isBlank()) {
            return null;
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (IOException e) {
            root = null;
        }
        if (root == null || !root.isObject()) {
            return new Problem("malformed JSON");
        }
        List<Object> values = new ArrayList<>();
        for (String ours : OURS) {
            JsonNode v = root.get(THEIRS.getOrDefault(ours, ours));
            Object value = v == null || v.isNull() ? null : value(v, ours);
            if (value instanceof Problem) {
                return value;
            }
            values.add(value);
        }
        return values;
    }

    /** The column's value, or the Problem naming the column when the JSON type is not its kind's. */
    private static Object value(JsonNode v, String column) {
        Problem wrong = new Problem("'" + column + "'");
        switch (column) {
            case "margin":
                return v.isNumber() ? number(v) : wrong;
            case "responses":
            case "ranking":
            case "messages": {
                if (!v.isArray()) {
                    return wrong;
                }
                List<Object> out = new ArrayList<>();
                for (JsonNode e : v) {
                    Object x = e.isNull() ? null : column.equals("responses") ? (e.isTextual() ? e.textValue() : wrong)
                            : column.equals("ranking") ? (e.isNumber() ? number(e) : wrong) : message(e, wrong);
                    if (x == wrong) {
                        return wrong;
                    }
                    out.add(x);
                }
                return out;
            }
            default:
                return v.isTextual() ? v.textValue() : wrong;
        }
    }

    /** A whole number that fits a long is a Long, as Spark reads it; any other number a Double. */
    private static Object number(JsonNode v) {
        return v.isIntegralNumber() && v.canConvertToLong() ? (Object) v.longValue() : (Object) v.doubleValue();
    }

    private static Object message(JsonNode m, Problem wrong) {
        if (!m.isObject()) {
            return wrong;
        }
        List<Object> rc = new ArrayList<>();
        for (String f : new String[] {"role", "content"}) {
            JsonNode x = m.get(f);
            if (x != null && !x.isNull() && !x.isTextual()) {
                return wrong;
            }
            rc.add(x == null || x.isNull() ? null : x.textValue());
        }
        return rc;
    }
}
