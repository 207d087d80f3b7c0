package rlhf.data;

import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.StreamSupport;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.jdk.javaapi.CollectionConverters;

import rlhf.io.TextFiles;

/**
 * JSON-lines rows read strictly: each value must have the JSON type its column needs, or the row
 * is a bad row that says which column holds what.
 *
 * <p>Why not Spark's JSON reader alone: it infers one type per column over all rows and widens a
 * conflict to string, so {@code "prompt": 12345} or {@code "response": ["a", "b"]} among string
 * rows came through as the texts "12345" and "[\"a\",\"b\"]" and trained, and one string
 * {@code margin} among numbers turned the whole column into strings. Here each line is parsed on
 * the executors with Jackson, from the line's bytes decoded strictly (invalid UTF-8 is a bad row,
 * not U+FFFD); Spark's reader is still used for the columns present (the format is decided from
 * them). Blank lines are skipped, as Spark's reader skips them, so row numbers are the same
 * records' numbers.
 *
 * <p>Each row is {@code [the columns asked for (our names) ..., problem, file]}: values in Spark's
 * external types (String, Double or Long, a Scala Seq for arrays, a Row with a schema for a chat
 * message), null for a missing or JSON-null value; {@code problem} is null, or why the row is bad
 * as "KIND: DETAIL" (invalid UTF-8, malformed JSON, a value of the wrong type), KIND free of the
 * row's values.
 */
final class JsonLineRows {

    /** The JSON type a column must hold. */
    enum Kind { TEXT, NUMBER, TEXT_ARRAY, NUMBER_ARRAY, MESSAGES }

    /** Characters of a malformed line quoted in its message. */
    private static final int QUOTED = 60;

    private static final StructType MESSAGE = new StructType()
            .add("role", DataTypes.StringType).add("content", DataTypes.StringType);

    private JsonLineRows() {
    }

    /** The kind of each of our column names. */
    static Kind kindOf(String ours) {
        return switch (ours) {
            case "margin" -> Kind.NUMBER;
            case "responses" -> Kind.TEXT_ARRAY;
            case "ranking" -> Kind.NUMBER_ARRAY;
            case "messages" -> Kind.MESSAGES;
            default -> Kind.TEXT;
        };
    }

    /**
     * The rows of the JSON-lines {@code input}.
     *
     * @param use           our column names, in the order the rows hold them
     * @param theirs        our column name -> the name in the file (absent: the same)
     * @param problemColumn name of the trailing column with the row's problem
     * @param fileColumn    name of the last column, the row's file
     */
    static JavaRDD<Row> read(SparkSession spark, String input, List<String> use, Map<String, String> theirs,
            String problemColumn, String fileColumn) {
        Parse parse = parser(use, theirs, problemColumn, fileColumn);
        // the lines' bytes, not Spark's strings: its text source decodes invalid UTF-8 to U+FFFD
        // without a word, and a mangled line must be a bad row, as Spark's JSON reader made it
        JavaRDD<Row> lines = spark.read().text(input)
                .select(functions.col("value").cast(DataTypes.BinaryType), functions.input_file_name())
                .javaRDD();
        return lines.mapPartitions(parse, true);
    }

    /**
     * The function {@link #read} maps each partition's {@code [line bytes, file]} rows with; its
     * own method so that tests can feed it lines without Spark.
     */
    static Parse parser(List<String> use, Map<String, String> theirs, String problemColumn, String fileColumn) {
        StructType schema = new StructType();
        List<String> keys = new ArrayList<>();
        List<Kind> kinds = new ArrayList<>();
        for (String c : use) {
            schema = schema.add(c, DataTypes.StringType); // names only: the converters read by position
            keys.add(theirs.getOrDefault(c, c));
            kinds.add(kindOf(c));
        }
        schema = schema.add(problemColumn, DataTypes.StringType).add(fileColumn, DataTypes.StringType);
        return new Parse(keys, kinds, schema);
    }

    /** Parses a partition's lines, skipping blank ones; one ObjectMapper per partition. */
    record Parse(List<String> keys, List<Kind> kinds, StructType schema)
            implements FlatMapFunction<Iterator<Row>, Row>, Serializable {

        @Override
        public Iterator<Row> call(Iterator<Row> it) {
            // the whole line is the one object: "{...} {...}" (a lost newline) or "{...}x" is malformed,
            // not the first object's row with the rest dropped
            ObjectMapper json = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
            TextFiles.StrictUtf8 utf8 = new TextFiles.StrictUtf8();
            return StreamSupport.stream(Spliterators.spliteratorUnknownSize(it, Spliterator.ORDERED), false)
                    .map(line -> row(json, utf8, (byte[]) line.get(0), line.getString(1)))
                    .filter(Objects::nonNull)
                    .iterator();
        }

        /** One line's row, or null for a blank line. */
        private Row row(ObjectMapper json, TextFiles.StrictUtf8 utf8, byte[] bytes, String file) {
            String text = utf8.decode(bytes);
            if (text == null) {
                return problem(utf8.whyNot(bytes), file);
            }
            return text.isBlank() ? null : parse(json, text, file);
        }

        /** A bad row: only its problem and file. */
        private Row problem(String why, String file) {
            Object[] values = new Object[keys.size() + 2];
            values[keys.size()] = why;
            values[keys.size() + 1] = file;
            return new GenericRowWithSchema(values, schema);
        }

        private Row parse(ObjectMapper json, String text, String file) {
            int n = keys.size();
            Object[] values = new Object[n + 2];
            values[n + 1] = file;
            JsonNode root;
            try {
                root = json.readTree(text);
            } catch (JsonProcessingException e) {
                root = null;
            } catch (IOException e) {
                throw new IllegalStateException(e); // a String source does no I/O
            }
            if (root == null || !root.isObject()) {
                return problem("malformed JSON (expected one object per line): "
                        + (text.length() > QUOTED ? text.substring(0, QUOTED) + "..." : text), file);
            }
            for (int i = 0; i < n && values[n] == null; i++) {
                JsonNode v = root.get(keys.get(i));
                try {
                    values[i] = v == null || v.isNull() ? null : value(v, schema.fieldNames()[i], kinds.get(i));
                } catch (WrongType e) {
                    values[n] = e.getMessage();
                }
            }
            return new GenericRowWithSchema(values, schema);
        }
    }

    /**
     * A value of another JSON type than its column's. Its message is "KIND: DETAIL", KIND without
     * the row's values (the key bad rows are counted by), e.g. "'prompt' is not a string: a number
     * (12345)".
     */
    private static final class WrongType extends Exception {
        WrongType(String kind, String detail) {
            super(kind + ": " + detail, null, false, false);
        }
    }

    private static Object value(JsonNode v, String col, Kind kind) throws WrongType {
        switch (kind) {
            case TEXT:
                if (!v.isTextual()) {
                    throw new WrongType("'" + col + "' is not a string", describe(v));
                }
                return v.textValue();
            case NUMBER:
                if (!v.isNumber()) {
                    throw new WrongType("'" + col + "' is not a number", describe(v));
                }
                return number(v);
            case TEXT_ARRAY:
            case NUMBER_ARRAY:
            case MESSAGES: {
                if (!v.isArray()) {
                    throw new WrongType("'" + col + "' is not an array", describe(v));
                }
                List<Object> out = new ArrayList<>(v.size());
                for (int j = 0; j < v.size(); j++) {
                    JsonNode e = v.get(j);
                    if (e.isNull()) {
                        out.add(null);
                    } else if (kind == Kind.TEXT_ARRAY) {
                        if (!e.isTextual()) {
                            throw new WrongType("'" + col + "' holds a non-string", "element " + j + " is " + describe(e));
                        }
                        out.add(e.textValue());
                    } else if (kind == Kind.NUMBER_ARRAY) {
                        if (!e.isNumber()) {
                            throw new WrongType("'" + col + "' holds a non-number", "element " + j + " is " + describe(e));
                        }
                        out.add(number(e));
                    } else {
                        out.add(message(e, col, j));
                    }
                }
                return CollectionConverters.asScala(out).toList();
            }
            default:
                throw new IllegalStateException(kind.toString());
        }
    }

    /** A whole number as Long (as Spark reads it), any other as Double. */
    private static Object number(JsonNode v) {
        return v.isIntegralNumber() && v.canConvertToLong() ? (Object) v.longValue() : (Object) v.doubleValue();
    }

    private static Row message(JsonNode m, String col, int j) throws WrongType {
        if (!m.isObject()) {
            throw new WrongType("'" + col + "' holds a non-object", "element " + j + " is " + describe(m));
        }
        Object[] rc = new Object[2];
        String[] fields = {"role", "content"};
        for (int k = 0; k < 2; k++) {
            JsonNode f = m.get(fields[k]);
            if (f != null && !f.isNull() && !f.isTextual()) {
                throw new WrongType("'" + col + "' holds a non-string " + fields[k],
                        "element " + j + " " + fields[k] + " is " + describe(f));
            }
            rc[k] = f == null || f.isNull() ? null : f.textValue();
        }
        return new GenericRowWithSchema(rc, MESSAGE);
    }

    /** "a number (12345)", "an array ([\"a\",\"b\"])": the JSON type and a short quote. */
    private static String describe(JsonNode v) {
        String type = v.isTextual() ? "a string" : v.isNumber() ? "a number" : v.isBoolean() ? "a boolean"
                : v.isArray() ? "an array" : v.isObject() ? "an object" : v.getNodeType().toString().toLowerCase();
        String quote = v.toString();
        return type + " (" + (quote.length() > QUOTED ? quote.substring(0, QUOTED) + "..." : quote) + ")";
    }
}
