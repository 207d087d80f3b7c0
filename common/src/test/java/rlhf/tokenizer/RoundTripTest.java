package rlhf.tokenizer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** decode(encode(s)) == s, long pieces against a port of OpenAI's encoder.py, split characters. */
class RoundTripTest {

    static final String[] CASES = {
        "", " ", "\n", "\r\n", "\t\t\t", "a", "Hello world",
        "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \u4e2d\u6587 \ud55c\uad6d\uc5b4",
        "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66 \ud83d\udc4d\ud83c\udffd \ud83c\uddfa\ud83c\uddf8 1\ufe0f\u20e3",
        "cafe\u0301 Z\u0351\u036b\u0343\u036a\u0302\u036b \u0915\u094d\u0937",
        "tabs\tand\r\nCRLF\rCR\n\n\n" + " ".repeat(500) + "\t".repeat(300) + "\n".repeat(200),
        "int main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
        "x \u0085y \ufeff \u00a0 \u3000 \u2028 \u0000 \u007f \u001c",
        "<|endoftext|> in user text",
        "=".repeat(3000) + "a".repeat(2000) + "1234567890".repeat(100),
    };

    @Test
    void roundTripsHandPickedCases() {
        BpeTokenizer tok = Gpt2Files.gpt2();
        for (String s : CASES) {
            assertEquals(s, tok.decode(tok.encode(s)), () -> "round trip of " + PreTokenizerTest.escape(s));
            assertEquals(s, tok.decode(tok.encode(s, true)));
        }
    }

    @Test
    void roundTripsRandomBytesDecodedAsUtf8() {
        BpeTokenizer tok = Gpt2Files.gpt2();
        SplittableRandom rnd = new SplittableRandom(42);
        for (int t = 0; t < 2000; t++) {
            byte[] b = new byte[rnd.nextInt(200)];
            for (int i = 0; i < b.length; i++) {
                // half ASCII, half any byte: valid runs and invalid sequences (become U+FFFD)
                b[i] = (byte) (rnd.nextBoolean() ? rnd.nextInt(128) : rnd.nextInt(256));
            }
            String s = new String(b, StandardCharsets.UTF_8);
            assertEquals(s, tok.decode(tok.encode(s)), () -> "round trip of " + PreTokenizerTest.escape(s));
        }
        for (int t = 0; t < 500; t++) { // any code point, surrogates excluded
            StringBuilder sb = new StringBuilder();
            for (int i = rnd.nextInt(60); i > 0; i--) {
                int cp;
                do {
                    cp = rnd.nextInt(rnd.nextBoolean() ? 0x3000 : Character.MAX_CODE_POINT + 1);
                } while (cp >= Character.MIN_SURROGATE && cp <= Character.MAX_SURROGATE);
                sb.appendCodePoint(cp);
            }
            String s = sb.toString();
            assertEquals(s, tok.decode(tok.encode(s)), () -> "round trip of " + PreTokenizerTest.escape(s));
        }
    }

    @Test
    void loneSurrogateEncodesAsReplacementCharacter() {
        BpeTokenizer tok = Gpt2Files.gpt2();
        assertArrayEquals(tok.encode("a\ufffdb"), tok.encode("a\ud800b"));
    }

    @Test
    void decodingThatSplitsACharacterGivesReplacementNotAnError() {
        BpeTokenizer tok = Gpt2Files.gpt2();
        String s = "\ud83d\ude00\u65e5";
        int[] ids = tok.encode(s);
        assertTrue(ids.length >= 3, Arrays.toString(ids));
        ByteArrayOutputStream joined = new ByteArrayOutputStream();
        for (int i = 0; i < ids.length; i++) {
            joined.writeBytes(tok.decodeBytes(ids, i, i + 1));
            String part = tok.decode(ids, i, i + 1); // a fragment of a character
            assertTrue(part.contains("\ufffd"), part);
        }
        assertArrayEquals(s.getBytes(StandardCharsets.UTF_8), joined.toByteArray());
        assertEquals(s, tok.decode(ids, 0, ids.length));
    }

    /**
     * Long pieces take the heap merge; they must give what OpenAI's encoder.py loop gives
     * (ported here on strings: lowest-ranked pair, merge all its occurrences, repeat).
     */
    @Test
    void longPiecesMatchAPortOfEncoderPy() throws Exception {
        Reference ref = new Reference();
        BpeTokenizer tok = Gpt2Files.gpt2();
        SplittableRandom rnd = new SplittableRandom(3);
        String[] alphabets = {"abcdefghijklmnopqrstuvwxyz", "etaoinshr", "ab", "0123456789", "=-_*#", " ",
            "\u65e5\u672c\u8a9e\u4e2d\u6587", "\u00e9\u00e8\u00ea\u00e0"};
        for (int t = 0; t < 300; t++) {
            String alphabet = alphabets[t % alphabets.length];
            StringBuilder sb = new StringBuilder(rnd.nextBoolean() ? " " : "");
            for (int i = 20 + rnd.nextInt(300); i > 0; i--) {
                sb.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
            }
            String s = sb.toString();
            Gpt2CompatibilityTest.assertSameIds(s, ref.encode(s), tok.encode(s));
        }
        String run = "a".repeat(1000);
        Gpt2CompatibilityTest.assertSameIds(run, ref.encode(run), tok.encode(run));
    }

    /** OpenAI's encoder.py, transcribed: regex pieces, bytes_to_unicode, the bpe() loop. */
    static final class Reference {
        final Map<String, Integer> encoder;
        final Map<String, Integer> ranks = new HashMap<>();
        final String[] merges;
        final char[] byteEncoder = new char[256];

        Reference() throws Exception {
            encoder = new ObjectMapper().readValue(Gpt2Files.bytes("vocab.json"), new TypeReference<Map<String, Integer>>() {
            });
            String[] lines = new String(Gpt2Files.bytes("merges.txt"), StandardCharsets.UTF_8).split("\n");
            merges = Arrays.copyOfRange(lines, 1, lines.length);
            for (int i = 1; i < lines.length; i++) {
                ranks.putIfAbsent(lines[i], i - 1);
            }
            List<Integer> bs = new ArrayList<>();
            for (int b = '!'; b <= '~'; b++) {
                bs.add(b);
            }
            for (int b = 0xA1; b <= 0xAC; b++) {
                bs.add(b);
            }
            for (int b = 0xAE; b <= 0xFF; b++) {
                bs.add(b);
            }
            for (int b : bs) {
                byteEncoder[b] = (char) b;
            }
            int n = 0;
            for (int b = 0; b < 256; b++) {
                if (!bs.contains(b)) {
                    byteEncoder[b] = (char) (256 + n++);
                }
            }
        }

        int[] encode(String text) {
            List<Integer> ids = new ArrayList<>();
            Matcher m = PreTokenizerTest.GPT2.matcher(text);
            while (m.find()) {
                StringBuilder sb = new StringBuilder();
                for (byte b : m.group().getBytes(StandardCharsets.UTF_8)) {
                    sb.append(byteEncoder[b & 0xFF]);
                }
                for (String w : bpe(sb.toString())) {
                    ids.add(encoder.get(w));
                }
            }
            return ids.stream().mapToInt(Integer::intValue).toArray();
        }

        List<String> bpe(String token) {
            List<String> word = new ArrayList<>();
            token.chars().forEach(c -> word.add(String.valueOf((char) c)));
            while (word.size() > 1) {
                int best = Integer.MAX_VALUE;
                for (int i = 0; i + 1 < word.size(); i++) {
                    best = Math.min(best, ranks.getOrDefault(word.get(i) + " " + word.get(i + 1), Integer.MAX_VALUE));
                }
                if (best == Integer.MAX_VALUE) {
                    break;
                }
                String merge = merges[best];
                String first = merge.substring(0, merge.indexOf(' '));
                String second = merge.substring(merge.indexOf(' ') + 1);
                List<String> out = new ArrayList<>();
                for (int i = 0; i < word.size(); ) {
                    if (i + 1 < word.size() && word.get(i).equals(first) && word.get(i + 1).equals(second)) {
                        out.add(first + second);
                        i += 2;
                    } else {
                        out.add(word.get(i++));
                    }
                }
                word.clear();
                word.addAll(out);
            }
            return word;
        }
    }
}
