package rlhf.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import rlhf.io.TextFiles;
import rlhf.testing.Fuzz;
import rlhf.testing.Fuzz.Invalid;
import rlhf.testing.Mutate;

/**
 * Seeded fuzzing of the tokenizer files: 10,000 mutations of a small GPT-2-style {@code vocab.json}
 * and {@code merges.txt} pair (ids removed, swapped, duplicated, out of range or of another type,
 * tokens outside the byte table, missing single bytes or EOS, merge lines dropped, repeated,
 * malformed or naming unknown tokens, line endings, truncation, byte flips, invalid UTF-8), each
 * loaded by {@link BpeTokenizer#load(java.io.InputStream, java.io.InputStream, String, String)}.
 * Proves that each pair is either refused with an IOException naming one of the two files, or
 * loaded to exactly the tokens and merges an independent reading gives: Jackson's parse of the
 * vocabulary, GPT-2's byte-to-unicode table written out here, and the merge lines split as
 * documented. A tokenizer loaded wrong encodes every prompt wrong without a word.
 */
class BpeTokenizerFuzzTest {

    private static final long SEED = 20261209L;
    private static final int CASES = 10_000;
    private static final String VOCAB = "tok/vocab.json";
    private static final String MERGES = "tok/merges.txt";
    private static final String EOS = "<|endoftext|>";

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** GPT-2's byte-to-unicode table: printable Latin-1 bytes stand for themselves, the rest for 256, 257, ... */
    private static final Map<Character, Integer> CHAR_TO_BYTE = new HashMap<>();
    private static final List<String> BYTE_TOKENS = new ArrayList<>();

    static {
        int next = 256;
        char[] charOf = new char[256];
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
            if (printable) {
                charOf[b] = (char) b;
                BYTE_TOKENS.add(String.valueOf((char) b));
            }
        }
        for (int b = 0; b < 256; b++) {
            if (charOf[b] == 0) {
                charOf[b] = (char) next++;
                BYTE_TOKENS.add(String.valueOf(charOf[b]));
            }
        }
        for (int b = 0; b < 256; b++) {
            CHAR_TO_BYTE.put(charOf[b], b);
        }
    }

    /** Merge lines of the base pair; "\u0120" is the space byte. */
    private static final List<String> MERGE_LINES = List.of("h e", "l l", "he ll", "\u0120 t", "\u0120t he", "o \u0120");

    private record Pair(byte[] vocab, byte[] merges) {
    }

    private static Pair base() {
        ObjectNode v = JsonNodeFactory.instance.objectNode();
        for (String t : BYTE_TOKENS) {
            v.put(t, v.size());
        }
        for (String line : MERGE_LINES) {
            v.put(line.replace(" ", ""), v.size());
        }
        v.put(EOS, v.size());
        return new Pair(Mutate.utf8(v.toString()), Mutate.utf8("#version: 0.2\n" + String.join("\n", MERGE_LINES) + "\n"));
    }

    @Test
    void everyMutatedPairIsRefusedNamingAFileOrLoadedToTheTokensAndMergesItHolds() throws Exception {
        Pair base = base();
        assertEquals(Fuzz.Outcome.LOADED, check(base), "the unmutated files load");
        Fuzz.run("tokenizer", SEED, CASES, (caseNo, r) -> check(mutate(base, r)));
    }

    // ---------------------------------------------------------------- mutations

    private static Pair mutate(Pair base, Random r) throws IOException {
        int family = r.nextInt(10);
        if (family < 5) {
            return new Pair(mutateVocab(base.vocab(), r), base.merges());
        }
        if (family < 9) {
            return new Pair(base.vocab(), mutateMerges(base.merges(), r));
        }
        return new Pair(mutateVocab(base.vocab(), r), mutateMerges(base.merges(), r));
    }

    private static byte[] mutateVocab(byte[] vocab, Random r) throws IOException {
        ObjectNode v = (ObjectNode) JSON.readTree(vocab);
        List<String> keys = Mutate.fieldNames(v);
        String key = keys.get(r.nextInt(keys.size()));
        String other = keys.get(r.nextInt(keys.size()));
        switch (r.nextInt(12)) {
            case 0 -> v.remove(Mutate.pick(r, key, EOS, "he", "a"));
            case 1 -> v.set(key, r.nextBoolean() ? Mutate.edgeNumber(r) : Mutate.anyValue(r));
            case 2 -> {
                JsonNode id = v.get(key);
                v.set(key, v.get(other));
                if (r.nextBoolean()) {
                    v.set(other, id); // swapped: still a valid vocabulary, with other ids
                }
            }
            case 3 -> v.put(Mutate.pick(r, "new", "", "\u4e2d", "a b", "\u0100\u0143", "hell"),
                    v.size() + Mutate.pick(r, 0, 0, 1, -1, 100));
            case 4 -> {
                JsonNode id = v.remove(key);
                v.set(Mutate.pick(r, key + "\u00ff", key.toUpperCase(), key + " ", "\u0000"), id);
            }
            case 5 -> {
                return Mutate.utf8(Mutate.withDuplicateKey(v, r));
            }
            case 6, 7, 8 -> {
                return Mutate.bytes(vocab, r);
            }
            case 9 -> {
                return Mutate.utf8(Mutate.pick(r, "[]", "{}", "null", "", Mutate.deepArray(2000), "{\"a\": [1]}",
                        v + " {}", v + "x", v + "\n", v.toString().replace("}", ",}")));
            }
            default -> Mutate.editObject(v, r);
        }
        return Mutate.utf8(v.toString());
    }

    private static byte[] mutateMerges(byte[] merges, Random r) {
        List<String> lines = new ArrayList<>(Arrays.asList(new String(merges, StandardCharsets.UTF_8).split("\n", -1)));
        int at = 1 + r.nextInt(lines.size() - 1);
        switch (r.nextInt(12)) {
            case 0 -> lines.remove(at);
            case 1 -> lines.add(at, lines.get(1 + r.nextInt(lines.size() - 2)));
            case 2 -> lines.add(at, Mutate.pick(r, "h", "h  e", " h e", "h e ", "h\te", "x y", "h l", "\u4e2d e",
                    "#version: 0.2", "h e l", " ", "e h"));
            case 3 -> lines.set(0, Mutate.pick(r, "#version: 0.3", "# comment", "", "h e", "#versionx"));
            case 4 -> lines.remove(0);
            case 5 -> {
                return Mutate.utf8(String.join(Mutate.pick(r, "\r\n", "\r", "\n\n"), lines));
            }
            case 6, 7, 8, 9 -> {
                return Mutate.bytes(merges, r);
            }
            default -> {
                String moved = lines.remove(at);
                lines.add(1 + r.nextInt(lines.size() - 1), moved); // another rank order: still valid
            }
        }
        return Mutate.utf8(String.join("\n", lines));
    }

    // ---------------------------------------------------------------- checking

    private static Fuzz.Outcome check(Pair f) throws IOException {
        Fuzz.Expectation<Expected> expectation = Fuzz.expect(() -> expected(f));
        Expected expected = expectation.value();
        String whyNot = expectation.whyNot();
        BpeTokenizer tok;
        try {
            tok = BpeTokenizer.load(new ByteArrayInputStream(f.vocab()), new ByteArrayInputStream(f.merges()),
                    VOCAB, MERGES);
        } catch (IOException e) {
            if (e.getClass() != IOException.class || e.getMessage() == null
                    || !(e.getMessage().startsWith(VOCAB) || e.getMessage().startsWith(MERGES))) {
                throw new AssertionError("not an error naming the file: " + e, e);
            }
            return Fuzz.Outcome.REFUSED;
        }
        if (expected == null) {
            throw new AssertionError("loaded files the rules refuse (" + whyNot + ")");
        }
        assertEquals(expected.tokens().size(), tok.vocabSize(), "vocabulary size");
        for (int id = 0; id < tok.vocabSize(); id++) {
            assertArrayEquals(expected.tokens().get(id), tok.tokenBytes(id), "token " + id);
        }
        assertEquals(expected.eos(), tok.eosId(), "EOS id");
        ByteArrayOutputStream v = new ByteArrayOutputStream();
        ByteArrayOutputStream m = new ByteArrayOutputStream();
        tok.save(v, m);
        assertEquals("#version: 0.2\n" + String.join("", expected.merges()), m.toString(StandardCharsets.UTF_8),
                "merges");
        return Fuzz.Outcome.LOADED;
    }

    /** tokens.get(id) are the token's bytes; merges are "left right\n" lines in rank order. */
    private record Expected(List<byte[]> tokens, int eos, List<String> merges) {
    }

    /** The pair as the formats define it, read without the tokenizer's code. */
    private static Expected expected(Pair f) throws Invalid {
        JsonNode root;
        try {
            root = JSON.readTree(strictUtf8(f.vocab(), VOCAB));
        } catch (IOException e) {
            throw new Invalid("vocab not JSON");
        }
        if (root == null || !root.isObject()) {
            throw new Invalid("vocab not an object");
        }
        int n = root.size();
        byte[][] tokens = new byte[n][];
        Map<String, Integer> ids = new HashMap<>();
        for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>) root::fields) {
            JsonNode id = e.getValue();
            if (!id.isIntegralNumber() || !id.canConvertToInt() || id.intValue() < 0 || id.intValue() >= n
                    || tokens[id.intValue()] != null) {
                throw new Invalid("ids not 0..n-1 once each");
            }
            byte[] bytes = new byte[e.getKey().length()];
            for (int i = 0; i < bytes.length; i++) {
                Integer b = CHAR_TO_BYTE.get(e.getKey().charAt(i));
                if (b == null) {
                    throw new Invalid("char outside the byte table");
                }
                bytes[i] = (byte) b.intValue();
            }
            tokens[id.intValue()] = bytes;
            ids.put(e.getKey(), id.intValue());
        }
        for (int b = 0; b < 256; b++) {
            if (!ids.containsKey(BYTE_TOKENS.get(b))) {
                throw new Invalid("a byte without its token");
            }
        }
        if (!ids.containsKey(EOS)) {
            throw new Invalid("no EOS");
        }
        // lines ended by \n, \r or \r\n
        List<String> lines = new BufferedReader(new StringReader(strictUtf8(f.merges(), MERGES))).lines().toList();
        List<String> merges = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if ((i == 0 && line.startsWith("#version")) || line.isEmpty()) {
                continue;
            }
            String[] parts = line.split(" ", -1);
            if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty() || !ids.containsKey(parts[0])
                    || !ids.containsKey(parts[1]) || !ids.containsKey(parts[0] + parts[1])) {
                throw new Invalid("merge line " + (i + 1));
            }
            merges.add(line + "\n");
        }
        return new Expected(Arrays.asList(tokens), ids.get(EOS), merges);
    }

    private static String strictUtf8(byte[] bytes, String file) throws Invalid {
        String text = new TextFiles.StrictUtf8().decode(bytes);
        if (text == null) {
            throw new Invalid(file + " not UTF-8");
        }
        return text;
    }
}
