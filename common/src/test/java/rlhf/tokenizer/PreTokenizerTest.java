package rlhf.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The hand-written scanner against GPT-2's regular expression run by java.util.regex, where
 * UNICODE_CHARACTER_CLASS makes {@code \s} the White_Space property as in Python's regex module.
 */
class PreTokenizerTest {

    static final Pattern GPT2 = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    static List<String> regexPieces(String s) {
        List<String> out = new ArrayList<>();
        Matcher m = GPT2.matcher(s);
        while (m.find()) {
            out.add(m.group());
        }
        return out;
    }

    static List<String> scannerPieces(String s) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < s.length(); ) {
            int end = PreTokenizer.pieceEnd(s, i, s.length());
            out.add(s.substring(i, end));
            i = end;
        }
        return out;
    }

    @Test
    void classesMatchTheRegexForEveryCodePoint() {
        Matcher letter = Pattern.compile("\\p{L}").matcher("");
        Matcher number = Pattern.compile("\\p{N}").matcher("");
        Matcher space = Pattern.compile("\\s", Pattern.UNICODE_CHARACTER_CLASS).matcher("");
        for (int cp = 0; cp <= Character.MAX_CODE_POINT; cp++) {
            String s = new String(Character.toChars(cp));
            int expected = space.reset(s).matches() ? PreTokenizer.SPACE
                    : letter.reset(s).matches() ? PreTokenizer.LETTER
                    : number.reset(s).matches() ? PreTokenizer.NUMBER : PreTokenizer.OTHER;
            if (expected != PreTokenizer.classify(cp)) {
                assertEquals(expected, PreTokenizer.classify(cp), String.format("class of U+%04X", cp));
            }
        }
        // where Character's shortcuts would be wrong
        assertEquals(PreTokenizer.NUMBER, PreTokenizer.classify('\u00bd')); // No, not isDigit
        assertEquals(PreTokenizer.NUMBER, PreTokenizer.classify('\u216b')); // Nl
        assertEquals(PreTokenizer.SPACE, PreTokenizer.classify('\u00a0')); // not isWhitespace
        assertEquals(PreTokenizer.SPACE, PreTokenizer.classify('\u0085'));
        assertEquals(PreTokenizer.OTHER, PreTokenizer.classify('\u001c')); // isWhitespace, not White_Space
        assertEquals(PreTokenizer.OTHER, PreTokenizer.classify('\ufeff'));
    }

    @Test
    void handPickedCasesSplitAsGpt2() {
        assertEquals(List.of("Hello", ",", " world", "!"), scannerPieces("Hello, world!"));
        assertEquals(List.of("I", "'m", " here", " '", "s", " it", "'", "S"), scannerPieces("I'm here 's it'S"));
        assertEquals(List.of("a", "  ", " b"), scannerPieces("a   b"));
        assertEquals(List.of("a", "\n\n", "\n", "b"), scannerPieces("a\n\n\nb"));
        assertEquals(List.of("a", " ", "\n", "b"), scannerPieces("a \nb"));
        assertEquals(List.of("x", "   "), scannerPieces("x   "));
        assertEquals(List.of("?'", "s"), scannerPieces("?'s"));
        assertEquals(List.of(" 42\u00bd", " \u216b"), scannerPieces(" 42\u00bd \u216b"));
    }

    @Test
    void randomTextSplitsExactlyAsTheRegex() {
        String[] atoms = {"a", "Z", "\u00e9", "\u65e5", "\u0915\u094d", "\u0301", "1", "\u00bd", "\u216b", "\u0663",
            " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u0085", "\u2028", "\u001c", "\ufeff", "\u200d",
            "'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'r", "'l", ".", "!", "?", "-", "_", "$", "\u2019",
            "\ud83d\ude00", "\ud83d\udc4d\ud83c\udffd", "\ufe0f", "\ud835\udc00" /* math bold A, a letter */,
            "\ud83c\udf00", "\ud800" /* lone surrogate */, "\udc00", "\u0000", "\u007f"};
        SplittableRandom rnd = new SplittableRandom(7);
        for (int t = 0; t < 20_000; t++) {
            StringBuilder sb = new StringBuilder();
            int n = 1 + rnd.nextInt(12);
            for (int i = 0; i < n; i++) {
                sb.append(atoms[rnd.nextInt(atoms.length)]);
            }
            String s = sb.toString();
            assertEquals(regexPieces(s), scannerPieces(s), () -> "pieces of " + escape(s));
        }
    }

    static String escape(String s) {
        StringBuilder sb = new StringBuilder("\"");
        s.chars().forEach(c -> sb.append(c >= 0x20 && c < 0x7f ? String.valueOf((char) c) : String.format("\\u%04x", c)));
        return sb.append('"').toString();
    }
}
