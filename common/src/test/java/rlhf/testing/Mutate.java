package rlhf.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Mutations shared by the input-reader fuzz tests: on raw bytes (flips, truncation, appended
 * garbage, invalid UTF-8) and on JSON (values of other types and edge values, removed, renamed and
 * duplicated keys, deep nesting). Every choice comes from the caller's {@link Random}, so a case
 * is reproduced from its seed.
 */
public final class Mutate {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /** Byte sequences that are not UTF-8: a bad start byte, a lone continuation, an overlong NUL,
     *  an encoded surrogate, a truncated 3-byte sequence, a 5-byte form, a code point past U+10FFFF. */
    private static final byte[][] NOT_UTF8 = {
        {(byte) 0xff}, {(byte) 0x80}, {(byte) 0xc0, (byte) 0x80}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
        {(byte) 0xe2, (byte) 0x82}, {(byte) 0xf8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80},
        {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xc1, (byte) 0xa1},
    };

    private Mutate() {
    }

    // ---------------------------------------------------------------- bytes

    /** 1 to 4 bytes anywhere changed: one bit flipped, or a random byte. */
    public static byte[] flip(byte[] b, Random r) {
        byte[] out = b.clone();
        if (out.length == 0) {
            return out;
        }
        for (int k = 1 + r.nextInt(4); k > 0; k--) {
            int at = r.nextInt(out.length);
            out[at] = r.nextBoolean() ? (byte) (out[at] ^ (1 << r.nextInt(8))) : (byte) r.nextInt(256);
        }
        return out;
    }

    /** The first {@code [0, length)} bytes. */
    public static byte[] truncate(byte[] b, Random r) {
        return Arrays.copyOf(b, b.length == 0 ? 0 : r.nextInt(b.length));
    }

    /** 1 to 16 random bytes appended. */
    public static byte[] append(byte[] b, Random r) {
        byte[] tail = new byte[1 + r.nextInt(16)];
        r.nextBytes(tail);
        return concat(b, tail);
    }

    /** A byte sequence that is not UTF-8 inserted at {@code [from, to]} (a random place in that range). */
    public static byte[] insertNotUtf8(byte[] b, int from, int to, Random r) {
        int at = from + r.nextInt(Math.max(1, to - from + 1));
        byte[] bad = NOT_UTF8[r.nextInt(NOT_UTF8.length)];
        byte[] out = new byte[b.length + bad.length];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(bad, 0, out, at, bad.length);
        System.arraycopy(b, at, out, at + bad.length, b.length - at);
        return out;
    }

    /** One byte-level mutation: truncated, bytes flipped, invalid UTF-8 inserted, or bytes appended. */
    public static byte[] bytes(byte[] b, Random r) {
        return switch (r.nextInt(4)) {
            case 0 -> truncate(b, r);
            case 1 -> flip(b, r);
            case 2 -> insertNotUtf8(b, 0, b.length, r);
            default -> append(b, r);
        };
    }

    public static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    public static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------- JSON values

    /** Numbers at the edges of the types readers convert to (int, long, double) and just past them. */
    public static JsonNode edgeNumber(Random r) {
        return switch (r.nextInt(14)) {
            case 0 -> NODES.numberNode(0);
            case 1 -> NODES.numberNode(-1);
            case 2 -> NODES.numberNode(1);
            case 3 -> NODES.numberNode(Integer.MAX_VALUE);
            case 4 -> NODES.numberNode(Integer.MAX_VALUE + 1L);
            case 5 -> NODES.numberNode(Integer.MIN_VALUE - 1L);
            case 6 -> NODES.numberNode(Long.MAX_VALUE);
            case 7 -> NODES.numberNode(BigInteger.ONE.shiftLeft(64));
            case 8 -> NODES.numberNode(1.5);
            case 9 -> NODES.numberNode(2.0);
            case 10 -> NODES.numberNode(new BigDecimal("1e400"));
            case 11 -> NODES.numberNode(-0.0);
            case 12 -> NODES.numberNode(r.nextInt(100));
            default -> NODES.numberNode(r.nextGaussian());
        };
    }

    /** Any JSON value: edge numbers, strings, booleans, null, small arrays and objects. */
    public static JsonNode anyValue(Random r) {
        return switch (r.nextInt(9)) {
            case 0, 1, 2 -> edgeNumber(r);
            case 3 -> NODES.textNode(r.nextBoolean() ? "" : "x\u00e9\u2028" + r.nextInt(10));
            case 4 -> NODES.textNode(String.valueOf(r.nextInt(64)));
            case 5 -> NODES.booleanNode(r.nextBoolean());
            case 6 -> NODES.nullNode();
            case 7 -> NODES.arrayNode().add(edgeNumber(r)).add(r.nextInt(8));
            default -> NODES.objectNode().put("k", r.nextInt(8));
        };
    }

    /** The same value as another JSON type: 8 as "8", 8.0 or [8]; "8" as 8; true as "true"; [x] as x. */
    public static JsonNode retype(JsonNode v, Random r) {
        if (v.isIntegralNumber()) {
            return switch (r.nextInt(3)) {
                case 0 -> NODES.textNode(v.asText());
                case 1 -> NODES.numberNode(v.doubleValue());
                default -> NODES.arrayNode().add(v);
            };
        }
        if (v.isNumber()) {
            return r.nextBoolean() ? NODES.textNode(v.asText()) : NODES.numberNode(v.longValue());
        }
        if (v.isTextual()) {
            try {
                return NODES.numberNode(Long.parseLong(v.textValue()));
            } catch (NumberFormatException e) {
                return r.nextBoolean() ? NODES.arrayNode().add(v) : NODES.booleanNode(true);
            }
        }
        if (v.isBoolean()) {
            return r.nextBoolean() ? NODES.textNode(v.asText()) : NODES.numberNode(v.booleanValue() ? 1 : 0);
        }
        if (v.isArray() && v.size() > 0) {
            return v.get(0);
        }
        return anyValue(r);
    }

    /** {@code depth} nested arrays around 0, past any sane nesting limit when large. */
    public static String deepArray(int depth) {
        return "[".repeat(depth) + "0" + "]".repeat(depth);
    }

    /**
     * One edit of a JSON object: a field removed, renamed, set to any value, retyped, or a new
     * field added.
     */
    public static void editObject(ObjectNode o, Random r) {
        List<String> keys = fieldNames(o);
        int what = keys.isEmpty() ? 4 : r.nextInt(5);
        String key = keys.isEmpty() ? null : keys.get(r.nextInt(keys.size()));
        switch (what) {
            case 0 -> o.remove(key);
            case 1 -> {
                JsonNode v = o.remove(key);
                o.set(r.nextBoolean() ? key.toUpperCase() : key + "_", v);
            }
            case 2 -> o.set(key, anyValue(r));
            case 3 -> o.set(key, retype(o.get(key), r));
            default -> o.set("unknown_" + r.nextInt(4), anyValue(r));
        }
    }

    public static List<String> fieldNames(ObjectNode o) {
        List<String> keys = new ArrayList<>();
        o.fieldNames().forEachRemaining(keys::add);
        return keys;
    }

    /** The object's JSON text with one of its fields written a second time, with another value. */
    public static String withDuplicateKey(ObjectNode o, Random r) {
        List<String> keys = fieldNames(o);
        String dup = keys.isEmpty() ? "k" : keys.get(r.nextInt(keys.size()));
        StringBuilder s = new StringBuilder("{");
        for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            s.append(TextNode.valueOf(e.getKey())).append(':').append(e.getValue()).append(',');
        }
        s.append(TextNode.valueOf(dup)).append(':').append(anyValue(r)).append('}');
        return s.toString();
    }

    /** A random element of {@code a}. */
    @SafeVarargs
    public static <T> T pick(Random r, T... a) {
        return a[r.nextInt(a.length)];
    }

    /** A new array with the values, for building nodes tersely. */
    public static ArrayNode array(long... values) {
        ArrayNode a = NODES.arrayNode();
        for (long v : values) {
            a.add(v);
        }
        return a;
    }
}
