package rlhf.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Our encoder against GPT-2's ids for a mixed corpus (prose, code, CJK, emoji, whitespace runs,
 * numbers, contractions, punctuation, random mixes). The expected ids come from OpenAI's tiktoken
 * (r50k_base), cross-checked with OpenAI's encoder.py algorithm: see make_expected.js and
 * check_expected.py in the resources.
 */
class Gpt2CompatibilityTest {

    record Row(String text, int[] ids) {
    }

    static List<Row> expectedRows() throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<Row> rows = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                Gpt2Files.open("gpt2_expected.jsonl"), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                JsonNode n = json.readTree(line);
                JsonNode ids = n.get("ids");
                int[] a = new int[ids.size()];
                for (int i = 0; i < a.length; i++) {
                    a[i] = ids.get(i).asInt();
                }
                rows.add(new Row(n.get("text").asText(), a));
            }
        }
        return rows;
    }

    static void assertSameIds(String text, int[] expected, int[] actual) {
        if (Arrays.equals(expected, actual)) {
            return;
        }
        int i = 0;
        while (i < expected.length && i < actual.length && expected[i] == actual[i]) {
            i++;
        }
        fail("text " + new ObjectMapper().valueToTree(text) + ": ids differ first at index " + i
                + "\n expected " + Arrays.toString(expected) + "\n found    " + Arrays.toString(actual));
    }

    @Test
    void encodesTheMixedCorpusWithGpt2sExactIds() throws Exception {
        BpeTokenizer tok = Gpt2Files.gpt2();
        List<Row> rows = expectedRows();
        assertTrue(rows.size() >= 150, "corpus rows: " + rows.size());
        for (Row row : rows) {
            assertSameIds(row.text(), row.ids(), tok.encode(row.text()));
            assertEquals(row.text(), tok.decode(row.ids()), "decode of GPT-2's ids");
        }
    }

    @Test
    void vocabularyIsGpt2s() {
        BpeTokenizer tok = Gpt2Files.gpt2();
        assertEquals(50257, tok.vocabSize());
        assertEquals(50000, tok.mergeCount());
        assertEquals(50256, tok.eosId());
        assertEquals("<|endoftext|>", tok.tokenString(50256));
        assertEquals("Ġthe", tok.tokenString(262));
        assertArrayEquals(new int[] {15496, 995}, tok.encode("Hello world"));
    }

    @Test
    void eosStringIsOrdinaryTextUnlessAllowed() {
        BpeTokenizer tok = Gpt2Files.gpt2();
        String text = "a<|endoftext|>b<|endoftext|>";
        int[] plain = tok.encode(text);
        assertTrue(Arrays.stream(plain).noneMatch(id -> id == 50256), Arrays.toString(plain));
        assertArrayEquals(new int[] {27, 91, 437, 1659, 5239, 91, 29}, tok.encode("<|endoftext|>"));
        int[] special = tok.encode(text, true);
        assertArrayEquals(new int[] {64, 50256, 65, 50256}, special);
        assertEquals(text, tok.decode(special));
    }

    @Test
    void saveWritesTheGpt2FilesBackByteForByte() throws Exception {
        ByteArrayOutputStream v = new ByteArrayOutputStream();
        ByteArrayOutputStream m = new ByteArrayOutputStream();
        Gpt2Files.gpt2().save(v, m);
        assertArrayEquals(Gpt2Files.bytes("vocab.json"), v.toByteArray(), "vocab.json");
        assertArrayEquals(Gpt2Files.bytes("merges.txt"), m.toByteArray(), "merges.txt");
    }

    @Test
    void localAndHadoopFileSystemSaveAndLoadGiveTheSameTokenizer(@TempDir Path dir) throws Exception {
        BpeTokenizer tok = Gpt2Files.gpt2();
        FileSystem fs = FileSystem.getLocal(new Configuration());
        org.apache.hadoop.fs.Path out = new org.apache.hadoop.fs.Path(dir.toUri().toString(), "ckpt/tokenizer");
        tok.save(fs, out);
        BpeTokenizer back = BpeTokenizer.load(fs, out);
        assertArrayEquals(Gpt2Files.bytes("vocab.json"), Files.readAllBytes(dir.resolve("ckpt/tokenizer/vocab.json")));
        String text = "Spark checkpoint 'round trip' \u65e5\u672c 42";
        assertArrayEquals(tok.encode(text), back.encode(text));
        tok.save(dir.resolve("local"));
        assertArrayEquals(Gpt2Files.bytes("merges.txt"), Files.readAllBytes(dir.resolve("local/merges.txt")));
        assertArrayEquals(tok.encode(text), BpeTokenizer.load(dir.resolve("local")).encode(text));
    }

    @Test
    void javaSerializationForSparkClosuresKeepsEncoding() throws Exception {
        BpeTokenizer tok = Gpt2Files.gpt2();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(tok);
        }
        BpeTokenizer back;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            back = (BpeTokenizer) in.readObject();
        }
        for (Row row : expectedRows().subList(0, 40)) {
            assertSameIds(row.text(), row.ids(), back.encode(row.text()));
        }
        assertTrue(bytes.size() < 2_000_000, "serialized size " + bytes.size());
    }

    @Test
    void loadErrorsNameTheFileLineAndToken() {
        String vocab = "{\"a\": 0, \"b\": 1}";
        Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, () -> BpeTokenizer.load(
                new ByteArrayInputStream(vocab.getBytes(StandardCharsets.UTF_8)),
                new ByteArrayInputStream("#version: 0.2\na b\n".getBytes(StandardCharsets.UTF_8)), "v.json", "m.txt"));
        assertTrue(e.getMessage().contains("v.json"), e.getMessage());
        String bad = "{\"a\": 0, \"b\": 1, \"ab\": 2, \"<|endoftext|>\": 3}";
        e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, () -> BpeTokenizer.load(
                new ByteArrayInputStream(bad.getBytes(StandardCharsets.UTF_8)),
                new ByteArrayInputStream("#version: 0.2\na c\n".getBytes(StandardCharsets.UTF_8)), "v.json", "m.txt"));
        assertTrue(e.getMessage().contains("m.txt line 2") && e.getMessage().contains("\"c\""), e.getMessage());
        // a truncated vocab.json: Jackson's end-of-input, with the file's name and where it stopped
        for (String cut : List.of(bad.substring(0, 20), bad + " {}", "")) {
            e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> BpeTokenizer.load(
                    new ByteArrayInputStream(cut.getBytes(StandardCharsets.UTF_8)),
                    new ByteArrayInputStream("#version: 0.2\n".getBytes(StandardCharsets.UTF_8)), "tok/vocab.json", "m.txt"));
            assertTrue(e.getMessage().startsWith("tok/vocab.json: "), cut + " -> " + e.getMessage());
        }
    }

    @Test
    void mergesThatAreNotUtf8AreRefusedNamingTheFileEvenInTheVersionLine() {
        // decoded leniently, the 0xff became U+FFFD and the "#version" line was skipped as fine
        byte[] merges = "#version: 0.2~\n\u0120 t\n".getBytes(StandardCharsets.UTF_8);
        merges["#version: 0.2".length()] = (byte) 0xff;
        var e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> BpeTokenizer.load(
                new ByteArrayInputStream(Gpt2Files.bytes("vocab.json")), new ByteArrayInputStream(merges),
                "gpt2/vocab.json", "gpt2/merges.txt"));
        assertEquals("gpt2/merges.txt: not valid UTF-8 (at or after line 1)", e.getMessage());
    }
}
