package rlhf.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.testing.Fuzz;
import rlhf.testing.Fuzz.Invalid;
import rlhf.testing.Mutate;

/**
 * Seeded fuzzing of the safetensors reader: 10,000 mutations of small valid files (the header
 * length field, the header JSON's keys, dtypes, shapes, offsets and metadata, duplicate keys, deep
 * nesting, invalid UTF-8, truncation, byte flips, appended bytes), each read by
 * {@link Safetensors.Reader}. Proves that every file is either refused with a
 * {@link CheckpointFormatException} naming the file, or read to exactly the tensors an independent
 * decoder in this test gets from the format's definition (little-endian u64 header length, JSON
 * header, offsets tiling the data area, little-endian elements), and that a file valid by that
 * definition is never refused. One base file is a tiny GPT-2 checkpoint in the Hugging Face layout;
 * every file the reader reads is also loaded by {@link Gpt2Weights}, which must refuse it naming
 * the file or place exactly those tensors in our layout. A checkpoint comes from anywhere; a reader that throws something
 * else, hangs, runs out of memory or reads shifted bytes would take a job down or train on garbage.
 */
class SafetensorsFuzzTest {

    private static final long SEED = 20261207L;
    private static final int CASES = 10_000;

    /** The format's dtypes and their sizes in bytes, written down here rather than taken from the reader. */
    private static final Map<String, Integer> DTYPE_SIZES = Map.ofEntries(
            Map.entry("BOOL", 1), Map.entry("U8", 1), Map.entry("I8", 1), Map.entry("F8_E4M3", 1),
            Map.entry("F8_E5M2", 1), Map.entry("I16", 2), Map.entry("U16", 2), Map.entry("F16", 2),
            Map.entry("BF16", 2), Map.entry("I32", 4), Map.entry("U32", 4), Map.entry("F32", 4),
            Map.entry("I64", 8), Map.entry("U64", 8), Map.entry("F64", 8));

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    @TempDir
    java.nio.file.Path tmp;

    /** A header and data area, mutated separately then assembled with a (possibly wrong) length. */
    private record Parts(byte[] header, byte[] data) {
        byte[] file() {
            return assemble(header.length, header, data);
        }
    }

    static byte[] assemble(long headerLength, byte[] header, byte[] data) {
        return ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(headerLength).put(header).put(data).array();
    }

    /** A 1-layer GPT-2 of width 4 over 6 tokens: its checkpoints are small enough to mutate 10,000 times. */
    private static final GptConfig GPT2 = GptConfig.gpt2(6, 4, 1, 1, 4);

    /** The shape of our tensor in a Hugging Face GPT-2 file: Conv1D weights are stored [in, out]. */
    private static long[] hfShape(ParamLayout.View v) {
        return v.transposedInHf() ? new long[] {v.cols(), v.rows()} : Arrays.stream(v.shape()).asLongStream().toArray();
    }

    /**
     * Valid files: every float dtype, an integer tensor, a scalar, an empty tensor, metadata; and
     * a GPT-2 checkpoint in the Hugging Face layout (tensor names and shapes from our layout).
     */
    private static List<Parts> bases() {
        ByteBuffer bf16 = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN);
        for (int bits : new int[] {0x3f80, 0xc0a0, 0x7f80}) { // 1.0, -5.0, +inf
            bf16.putShort((short) bits);
        }
        RawSafetensors mixed = new RawSafetensors()
                .f32("w", new long[] {2, 3}, new float[] {1.5f, -0f, Float.MIN_VALUE, 3e38f, -2.25f, 7f})
                .f16Exact("h", new long[] {4}, new float[] {1f, -2f, 0.5f, 0f})
                .raw("b", "BF16", new long[] {3}, bf16.array())
                .raw("i", "I32", new long[] {2}, new byte[] {1, 0, 0, 0, -1, -1, -1, -1})
                .f32("s", new long[] {}, new float[] {3.25f})
                .raw("z", "F32", new long[] {0, 3}, new byte[0]);
        RawSafetensors plain = new RawSafetensors()
                .f32("a.weight", new long[] {3, 2}, new float[] {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f})
                .f16Exact("a.bias", new long[] {2}, new float[] {0.25f, -8f});
        RawSafetensors gpt2 = new RawSafetensors();
        int k = 0;
        for (ParamLayout.View v : ParamLayout.of(GPT2).views()) {
            float[] values = new float[v.size()];
            for (int i = 0; i < values.length; i++) {
                values[i] = (k++ % 97) * 0.01f - 0.4f;
            }
            gpt2.f32(v.name(), hfShape(v), values);
        }
        List<Parts> out = new ArrayList<>();
        for (RawSafetensors f : List.of(mixed, plain, gpt2)) {
            byte[] whole = f.bytes();
            byte[] header = Mutate.utf8(f.headerJson());
            out.add(new Parts(header, Arrays.copyOfRange(whole, 8 + header.length, whole.length)));
        }
        return out;
    }

    @Test
    void everyMutatedFileIsRefusedNamingItOrReadExactlyAsTheFormatDefinesIt() throws Exception {
        List<Parts> bases = bases();
        FileSystem fs = FileSystem.getLocal(new Configuration()).getRawFileSystem();
        for (Parts b : bases) {
            assertEquals(Fuzz.Outcome.LOADED, check(fs, write("base", b.file()), b.file()), "the unmutated file loads");
        }
        Fuzz.run("safetensors", SEED, CASES, (caseNo, r) -> {
            byte[] file = mutate(bases.get(r.nextInt(bases.size())), r);
            return check(fs, write("case-" + caseNo, file), file);
        });
    }

    /**
     * A new file per case: rewriting one file in place made each case wait for the disk (a
     * truncated file's blocks are flushed on close), and a case's name in the error is then its own.
     */
    private Path write(String name, byte[] content) throws IOException {
        java.nio.file.Path local = tmp.resolve(name + ".safetensors");
        Files.write(local, content);
        return new Path(local.toUri());
    }

    // ---------------------------------------------------------------- mutations

    private static byte[] mutate(Parts base, Random r) throws IOException {
        int family = r.nextInt(16);
        switch (family) {
            case 0 -> {
                return assemble(headerLength(base, r), base.header(), base.data());
            }
            case 1, 2, 3, 4, 5 -> {
                ObjectNode h = (ObjectNode) JSON.readTree(base.header());
                for (int k = r.nextInt(4) == 0 ? 2 : 1; k > 0; k--) {
                    editHeader(h, r, base.data().length);
                }
                return new Parts(Mutate.utf8(h.toString()), base.data()).file();
            }
            case 6 -> {
                ObjectNode h = (ObjectNode) JSON.readTree(base.header());
                String text = r.nextBoolean() ? Mutate.withDuplicateKey(h, r) : withDuplicateEntryKey(h, r);
                return new Parts(Mutate.utf8(text), base.data()).file();
            }
            case 7 -> {
                byte[] h = base.header();
                return new Parts(Mutate.insertNotUtf8(h, 1, h.length - 1, r), base.data()).file();
            }
            case 8 -> {
                return new Parts(whitespace(base.header(), r), base.data()).file();
            }
            case 9 -> {
                return Mutate.truncate(base.file(), r);
            }
            case 10, 11 -> {
                byte[] f = base.file();
                // a third of the flips in the data area: they keep the file valid and change values
                if (r.nextInt(3) == 0) {
                    byte[] data = Mutate.flip(base.data(), r);
                    return new Parts(base.header(), data).file();
                }
                return Mutate.flip(f, r);
            }
            case 12 -> {
                return Mutate.append(base.file(), r);
            }
            case 13 -> {
                ObjectNode h = (ObjectNode) JSON.readTree(base.header());
                List<String> keys = Mutate.fieldNames(h);
                String key = keys.get(r.nextInt(keys.size()));
                String deep = Mutate.deepArray(Mutate.pick(r, 10, 999, 1001, 5000));
                String text = r.nextBoolean() ? h.toString().replace(h.get(key).toString(), deep) : deep;
                return new Parts(Mutate.utf8(text), base.data()).file();
            }
            case 14 -> {
                // a consistent edit followed by a byte flip or a wrong length
                ObjectNode h = (ObjectNode) JSON.readTree(base.header());
                editHeader(h, r, base.data().length);
                Parts p = new Parts(Mutate.utf8(h.toString()), base.data());
                return r.nextBoolean() ? Mutate.flip(p.file(), r) : assemble(headerLength(p, r), p.header(), p.data());
            }
            default -> {
                byte[] f = base.file();
                // flips confined to the length field and the header's first bytes
                int span = Math.min(f.length, 8 + 16);
                byte[] head = Mutate.flip(Arrays.copyOf(f, span), r);
                System.arraycopy(head, 0, f, 0, span);
                return f;
            }
        }
    }

    /** A header length near the right one, or at the edges of u64, or past the file. */
    private static long headerLength(Parts p, Random r) {
        long n = p.header().length;
        long fileSpace = p.header().length + p.data().length;
        return switch (r.nextInt(10)) {
            case 0 -> n + 1;
            case 1 -> n - 1;
            case 2 -> n + 2 + r.nextInt(63);
            case 3 -> n - 2 - r.nextInt(Math.max(1, (int) n - 2));
            case 4 -> r.nextLong(); // anything, negative as i64 meaning >= 2^63 as u64
            case 5 -> Mutate.pick(r, 0L, 1L, -1L, Long.MAX_VALUE, Long.MIN_VALUE, 0xffffffffL, 1L << 32);
            case 6 -> Mutate.pick(r, Safetensors.MAX_HEADER_BYTES, Safetensors.MAX_HEADER_BYTES + 1);
            case 7 -> fileSpace;
            case 8 -> fileSpace + 1;
            default -> n + Mutate.pick(r, 4L, 8L, -4L, -8L);
        };
    }

    /** One edit of the header: an entry's dtype, shape, offsets or keys, the metadata, the entries. */
    private static void editHeader(ObjectNode h, Random r, int dataSize) {
        List<String> names = new ArrayList<>(Mutate.fieldNames(h));
        names.remove("__metadata__");
        if (names.isEmpty()) {
            h.putObject("t").put("dtype", "F32").set("shape", Mutate.array(0));
            return;
        }
        String name = names.get(r.nextInt(names.size()));
        ObjectNode e = (ObjectNode) h.get(name);
        switch (r.nextInt(9)) {
            case 0 -> e.set("dtype", r.nextInt(4) == 0 ? Mutate.anyValue(r) : e.textNode(Mutate.pick(r,
                    "F32", "F16", "BF16", "F64", "I32", "U8", "BOOL", "I64", "F8_E4M3", "f32", "", "Q4", "F32 ")));
            case 1 -> {
                ArrayNode shape = arrayField(e, "shape");
                switch (r.nextInt(5)) {
                    case 0 -> shape.add(Mutate.pick(r, 1, 2, 0));
                    case 1 -> {
                        if (!shape.isEmpty()) {
                            shape.remove(r.nextInt(shape.size()));
                        }
                    }
                    case 2 -> {
                        if (!shape.isEmpty()) {
                            shape.set(r.nextInt(shape.size()), Mutate.edgeNumber(r));
                        }
                    }
                    case 3 -> e.set("shape", Mutate.pick(r, Mutate.array(1L << 32, 1L << 32, 0),
                            Mutate.array(0, 1L << 62), Mutate.array(Long.MAX_VALUE), Mutate.array(3, 2)));
                    default -> e.set("shape", Mutate.retype(shape, r));
                }
            }
            case 2 -> {
                ArrayNode off = arrayField(e, "data_offsets");
                while (off.size() < 2) {
                    off.add(0);
                }
                int i = r.nextInt(2);
                switch (r.nextInt(4)) {
                    case 0 -> off.set(i, Mutate.edgeNumber(r));
                    case 1 -> off.set(i, off.get(i).asLong() + Mutate.pick(r, -1, 1, -4, 4, dataSize));
                    case 2 -> e.set("data_offsets", Mutate.array(r.nextInt(dataSize + 8), r.nextInt(dataSize + 8)));
                    default -> e.set("data_offsets", Mutate.pick(r, Mutate.array(0), Mutate.array(0, 0, 0),
                            Mutate.array(), Mutate.array(dataSize, dataSize)));
                }
            }
            case 3 -> {
                // offsets swapped with, or copied from, another tensor (overlaps, gaps)
                ObjectNode other = (ObjectNode) h.get(names.get(r.nextInt(names.size())));
                JsonNode mine = e.get("data_offsets");
                e.set("data_offsets", other.get("data_offsets"));
                if (r.nextBoolean()) {
                    other.set("data_offsets", mine);
                }
            }
            case 4 -> Mutate.editObject(e, r);
            case 5 -> {
                if (!(h.get("__metadata__") instanceof ObjectNode)) {
                    h.putObject("__metadata__");
                }
                ObjectNode meta = (ObjectNode) h.get("__metadata__");
                switch (r.nextInt(4)) {
                    case 0 -> h.remove("__metadata__");
                    case 1 -> h.set("__metadata__", Mutate.anyValue(r));
                    case 2 -> meta.set("k" + r.nextInt(3), Mutate.anyValue(r));
                    default -> meta.put("note", Mutate.pick(r, "", "\u00e9\u4e2d\ud83d\ude00", "a\"b\\c\n"));
                }
            }
            case 6 -> h.remove(name);
            case 7 -> {
                JsonNode v = h.remove(name);
                String to = Mutate.pick(r, "", "__metadata__", "x\u00e9", name + "2", "w", "a.bias");
                h.set(to, v);
            }
            default -> {
                ObjectNode extra = h.putObject("extra" + r.nextInt(3));
                extra.put("dtype", Mutate.pick(r, "F32", "F16", "U8"));
                extra.set("shape", Mutate.pick(r, Mutate.array(0), Mutate.array(1), Mutate.array(), Mutate.array(2, 0)));
                long b = Mutate.pick(r, 0L, (long) dataSize, (long) r.nextInt(dataSize + 1));
                extra.set("data_offsets", Mutate.array(b, b + Mutate.pick(r, 0, 1, 2, 4)));
            }
        }
    }

    /** The array under {@code key}, replacing a value of another type with an empty array. */
    private static ArrayNode arrayField(ObjectNode o, String key) {
        return o.get(key) instanceof ArrayNode a ? a : o.putArray(key);
    }

    /** A tensor entry with one of its own keys (dtype, shape, data_offsets) written twice. */
    private static String withDuplicateEntryKey(ObjectNode h, Random r) {
        List<String> names = Mutate.fieldNames(h);
        String name = names.get(r.nextInt(names.size()));
        ObjectNode e = (ObjectNode) h.get(name);
        String text = h.toString();
        return text.replace(e.toString(), Mutate.withDuplicateKey(e, r));
    }

    /** Whitespace around the JSON: padding as the format allows (spaces after), or other kinds and places. */
    private static byte[] whitespace(byte[] header, Random r) {
        String pad = " ".repeat(1 + r.nextInt(9));
        return switch (r.nextInt(5)) {
            case 0, 1 -> Mutate.concat(header, Mutate.utf8(pad));
            case 2 -> Mutate.concat(Mutate.utf8(pad), header);
            case 3 -> Mutate.concat(header, Mutate.utf8(Mutate.pick(r, "\n", "\t", "\r\n ", "\u00a0", "\0")));
            default -> Mutate.concat(header, Mutate.utf8(Mutate.pick(r, "x", "{}", ",", "]", "}")));
        };
    }

    // ---------------------------------------------------------------- checking

    /** Reads {@code file} with the reader and checks the outcome against the reference decoder. */
    private static Fuzz.Outcome check(FileSystem fs, Path path, byte[] file) throws IOException {
        Fuzz.Expectation<Decoded> expectation = Fuzz.expect(() -> decode(file));
        Decoded expected = expectation.value();
        String whyInvalid = expectation.whyNot();
        Safetensors.Reader reader;
        try {
            reader = Safetensors.open(fs, path);
        } catch (CheckpointFormatException e) {
            requireNamesFile(e, path);
            if (expected != null && expected.strictlyValid()) {
                throw new AssertionError("a valid file was refused: " + e.getMessage(), e);
            }
            return Fuzz.Outcome.REFUSED;
        }
        try (Safetensors.Reader rd = reader) {
            if (expected == null) {
                throw new AssertionError("read a file the format does not allow (" + whyInvalid + "): " + rd.tensors());
            }
            assertEquals(expected.metadata(), rd.metadata(), "metadata");
            assertEquals(List.copyOf(expected.tensors().keySet()), List.copyOf(rd.tensors().keySet()), "tensor names");
            for (Expected t : expected.tensors().values()) {
                Safetensors.TensorInfo info = rd.info(t.name());
                assertEquals(t.dtype(), info.dtype().name(), t.name());
                assertEquals(Arrays.toString(t.shape()), Arrays.toString(info.shape()), t.name());
                if (t.values() == null) {
                    try {
                        rd.read(t.name());
                        throw new AssertionError("read " + t.dtype() + " tensor '" + t.name() + "' as floats");
                    } catch (CheckpointFormatException e) {
                        requireNamesFile(e, path);
                    }
                    continue;
                }
                assertBitsEqual(t.values(), rd.read(t.name()), t.name());
                // transposed reads are checked on one file in 8: each costs the reader a 2 MB buffer
                if (t.shape().length == 2 && (Arrays.hashCode(file) & 7) == 0) {
                    float[] transposed = new float[t.values().length + 1];
                    rd.readTransposed(t.name(), transposed, 1);
                    int a = (int) t.shape()[0];
                    int b = (int) t.shape()[1];
                    float[] back = new float[t.values().length];
                    for (int i = 0; i < a; i++) {
                        for (int j = 0; j < b; j++) {
                            back[i * b + j] = transposed[1 + j * a + i];
                        }
                    }
                    assertBitsEqual(t.values(), back, t.name() + " transposed");
                }
            }
        }
        checkGpt2Weights(fs, path, expected);
        return Fuzz.Outcome.LOADED;
    }

    /**
     * A file the reader reads, loaded as the tiny GPT-2's weights: refused naming the file (most
     * files are not that model's, or hold a NaN), or every tensor in our layout as the reference
     * decoded it, Conv1D weights transposed.
     */
    private static void checkGpt2Weights(FileSystem fs, Path path, Decoded expected) throws IOException {
        float[] params;
        try {
            params = Gpt2Weights.load(fs, path, GPT2);
        } catch (CheckpointFormatException e) {
            requireNamesFile(e, path);
            return;
        }
        for (ParamLayout.View v : ParamLayout.of(GPT2).views()) {
            Expected t = expected.tensors().getOrDefault(v.name(), expected.tensors().get("transformer." + v.name()));
            if (t == null || t.values() == null || !Arrays.equals(hfShape(v), t.shape())) {
                throw new AssertionError("loaded GPT-2 weights without a float tensor " + v.name() + " "
                        + Arrays.toString(hfShape(v)));
            }
            float[] ours = t.values().clone();
            if (v.transposedInHf()) {
                int a = (int) t.shape()[0];
                int b = (int) t.shape()[1];
                for (int i = 0; i < a; i++) {
                    for (int j = 0; j < b; j++) {
                        ours[j * a + i] = t.values()[i * b + j];
                    }
                }
            }
            assertBitsEqual(ours, Arrays.copyOfRange(params, v.offset(), v.offset() + v.size()), "GPT-2 " + v.name());
        }
    }

    private static void requireNamesFile(Exception e, Path path) {
        assertNotNull(e.getMessage());
        if (!e.getMessage().contains(path.toString())) {
            throw new AssertionError("the error does not name the file " + path + ": " + e.getMessage(), e);
        }
    }

    /** Equal values; NaNs of any payload are one value (F16 NaNs widen with the reader's choice of payload). */
    private static void assertBitsEqual(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToIntBits(expected[i]) != Float.floatToIntBits(actual[i])) {
                throw new AssertionError(what + "[" + i + "]: expected " + expected[i] + " found " + actual[i]);
            }
        }
    }

    // ---------------------------------------------------------------- the reference decoder

    /** A tensor as the format defines it; {@code values} is null for a dtype that is not float. */
    private record Expected(String name, String dtype, long[] shape, float[] values) {
    }

    /**
     * A decoded file. {@code strictlyValid}: the header is exactly as the format asks (starts with
     * '{', padded with spaces only), so a reader must accept it; other whitespace around the JSON
     * leaves the content unambiguous, so reading it is allowed, not required.
     */
    private record Decoded(Map<String, Expected> tensors, Map<String, String> metadata, boolean strictlyValid) {
    }

    /** Decodes a safetensors file from the format's definition alone. */
    private static Decoded decode(byte[] f) throws Invalid {
        if (f.length < 8) {
            throw new Invalid("shorter than the length field");
        }
        ByteBuffer bb = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN);
        long n = bb.getLong(0);
        if (Long.compareUnsigned(n, f.length - 8L) > 0) {
            throw new Invalid("header length " + Long.toUnsignedString(n) + " past the end");
        }
        byte[] header = Arrays.copyOfRange(f, 8, 8 + (int) n);
        if (new TextFiles.StrictUtf8().decode(header) == null) {
            throw new Invalid("header is not UTF-8");
        }
        int end = header.length;
        while (end > 0 && header[end - 1] == ' ') {
            end--;
        }
        boolean strict = end > 0 && header[0] == '{' && header[end - 1] == '}';
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (IOException e) {
            throw new Invalid("header JSON: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new Invalid("header is not an object");
        }
        long dataSize = f.length - 8 - n;
        Map<String, Expected> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        List<long[]> spans = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            JsonNode v = field.getValue();
            if (field.getKey().equals("__metadata__")) {
                if (!v.isObject()) {
                    throw new Invalid("metadata not an object");
                }
                for (Iterator<Map.Entry<String, JsonNode>> m = v.fields(); m.hasNext(); ) {
                    Map.Entry<String, JsonNode> kv = m.next();
                    if (!kv.getValue().isTextual()) {
                        throw new Invalid("metadata value not a string");
                    }
                    metadata.put(kv.getKey(), kv.getValue().textValue());
                }
                continue;
            }
            if (!v.isObject() || !v.path("dtype").isTextual() || !DTYPE_SIZES.containsKey(v.get("dtype").textValue())) {
                throw new Invalid("bad entry or dtype");
            }
            String dtype = v.get("dtype").textValue();
            long[] shape = naturals(v.get("shape"), -1);
            long[] offsets = naturals(v.get("data_offsets"), 2);
            long numel = 1;
            long bytes;
            try {
                for (long d : shape) {
                    numel = Math.multiplyExact(numel, d);
                }
                bytes = Math.multiplyExact(numel, DTYPE_SIZES.get(dtype));
            } catch (ArithmeticException e) {
                throw new Invalid("shape overflows");
            }
            if (offsets[0] > offsets[1] || offsets[1] > dataSize || offsets[1] - offsets[0] != bytes) {
                throw new Invalid("offsets do not match the shape or the data area");
            }
            if (bytes > 0) {
                spans.add(offsets);
            }
            tensors.put(field.getKey(), new Expected(field.getKey(), dtype, shape,
                    elements(dtype, f, 8 + n + offsets[0], (int) numel)));
        }
        spans.sort(Comparator.comparingLong(s -> s[0]));
        long at = 0;
        for (long[] s : spans) {
            if (s[0] != at) {
                throw new Invalid("data area not tiled by the tensors");
            }
            at = s[1];
        }
        if (at != dataSize) {
            throw new Invalid("data area not filled by the tensors");
        }
        return new Decoded(tensors, metadata, strict);
    }

    /** An array of non-negative 64-bit integers ({@code size} of them, or any number when -1). */
    private static long[] naturals(JsonNode a, int size) throws Invalid {
        if (a == null || !a.isArray() || (size >= 0 && a.size() != size)) {
            throw new Invalid("not an array of " + (size < 0 ? "integers" : size + " integers"));
        }
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = a.get(i);
            if (!v.isIntegralNumber() || v.bigIntegerValue().signum() < 0 || v.bigIntegerValue().bitLength() > 63) {
                throw new Invalid("not a non-negative 64-bit integer: " + v);
            }
            out[i] = v.longValue();
        }
        return out;
    }

    /** The elements as floats (little-endian, the 16-bit formats widened), or null for other dtypes. */
    private static float[] elements(String dtype, byte[] f, long from, int numel) {
        ByteBuffer bb = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[numel];
        int at = (int) from;
        switch (dtype) {
            case "F32" -> {
                for (int i = 0; i < numel; i++) {
                    out[i] = Float.intBitsToFloat(bb.getInt(at + 4 * i));
                }
            }
            case "BF16" -> {
                for (int i = 0; i < numel; i++) {
                    out[i] = Float.intBitsToFloat((bb.getShort(at + 2 * i) & 0xffff) << 16);
                }
            }
            case "F16" -> {
                for (int i = 0; i < numel; i++) {
                    out[i] = binary16(bb.getShort(at + 2 * i) & 0xffff);
                }
            }
            default -> {
                return null;
            }
        }
        return out;
    }

    /** IEEE binary16 by its definition: (-1)^s * 2^(e-15) * 1.m, subnormals 2^-14 * 0.m, e=31 inf/NaN. */
    private static float binary16(int h) {
        int sign = h >>> 15;
        int e = (h >>> 10) & 31;
        int m = h & 1023;
        float v;
        if (e == 31) {
            v = m == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
        } else if (e == 0) {
            v = Math.scalb(m / 1024f, -14);
        } else {
            v = Math.scalb(1 + m / 1024f, e - 15);
        }
        return sign == 1 ? -v : v;
    }
}
