package rlhf.tokenizer;

/**
 * GPT-2's pre-tokenizer as a hand-written scanner: splits text into the pieces that BPE then
 * works on, exactly as the regular expression
 *
 * <pre>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</pre>
 *
 * does under leftmost, first-alternative (backtracking) semantics. Written by hand because it
 * is several times faster than {@code java.util.regex} and allocates nothing.
 *
 * <p>Character classes, as in Python's {@code regex} module (which GPT-2 used) and Rust's
 * {@code regex} crate (tiktoken):
 * <ul>
 *   <li>{@code \p{L}}: general categories Lu, Ll, Lt, Lm, Lo. ({@link Character#isLetter} is the
 *       same set.)</li>
 *   <li>{@code \p{N}}: Nd, Nl and No. Not {@link Character#isDigit}, which is Nd only: Roman
 *       numeral Ⅻ (Nl), superscript ² and fraction ½ (No) are numbers here.</li>
 *   <li>{@code \s}: the Unicode White_Space property (U+0009..U+000D, U+0020, U+0085, U+00A0,
 *       U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000). Not JavaScript's
 *       {@code \s}, which adds U+FEFF and drops U+0085 (the JS ports gpt-3-encoder and
 *       js-tiktoken therefore split text containing those two differently), and not
 *       {@link Character#isWhitespace}, which drops U+00A0, U+2007, U+202F and adds U+001C..U+001F.</li>
 * </ul>
 * Categories come from the running JDK's Unicode tables (Java 17: Unicode 13), so letters
 * assigned in later Unicode versions (e.g. CJK Extension H) are "other" on Java 17.
 *
 * <p>A lone surrogate is an "other" character (callers encode it as U+FFFD).
 */
public final class PreTokenizer {

    static final int LETTER = 0;
    static final int NUMBER = 1;
    static final int SPACE = 2;
    static final int OTHER = 3;

    /** Class of each ASCII character. */
    private static final byte[] ASCII = new byte[128];

    static {
        for (int c = 0; c < 128; c++) {
            ASCII[c] = (byte) classifySlow(c);
        }
    }

    private PreTokenizer() {
    }

    /** LETTER, NUMBER, SPACE or OTHER for one code point. */
    static int classify(int cp) {
        return cp < 128 ? ASCII[cp] : classifySlow(cp);
    }

    private static int classifySlow(int cp) {
        if (isWhiteSpace(cp)) {
            return SPACE;
        }
        switch (Character.getType(cp)) {
            case Character.UPPERCASE_LETTER:
            case Character.LOWERCASE_LETTER:
            case Character.TITLECASE_LETTER:
            case Character.MODIFIER_LETTER:
            case Character.OTHER_LETTER:
                return LETTER;
            case Character.DECIMAL_DIGIT_NUMBER:
            case Character.LETTER_NUMBER:
            case Character.OTHER_NUMBER:
                return NUMBER;
            default:
                return OTHER;
        }
    }

    /** The Unicode White_Space property (all such code points are in the BMP). */
    static boolean isWhiteSpace(int cp) {
        if (cp <= 0x20) {
            return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
        }
        if (cp < 0x85) {
            return false;
        }
        return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A)
                || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
    }

    /**
     * End (exclusive) of the piece that starts at {@code i} in {@code s[0, n)}; {@code i < n}.
     * Calling it repeatedly from 0 with the previous end splits the text as GPT-2 does.
     */
    public static int pieceEnd(CharSequence s, int i, int n) {
        char c = s.charAt(i);
        // 's 't 're 've 'm 'll 'd (case-sensitive, tried first)
        if (c == '\'' && i + 1 < n) {
            char d = s.charAt(i + 1);
            if (d == 's' || d == 't' || d == 'm' || d == 'd') {
                return i + 2;
            }
            if (i + 2 < n) {
                char e = s.charAt(i + 2);
                if ((e == 'e' && (d == 'r' || d == 'v')) || (d == 'l' && e == 'l')) {
                    return i + 3;
                }
            }
        }
        // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+' with the optional leading space
        if (c == ' ' && i + 1 < n) {
            int k = classify(Character.codePointAt(s, i + 1));
            if (k != SPACE) {
                return runEnd(s, i + 1, n, k);
            }
        }
        int cp = Character.codePointAt(s, i);
        int k = classify(cp);
        if (k != SPACE) {
            return runEnd(s, i, n, k);
        }
        // '\s+(?!\S)' then '\s+': a whitespace run to the end of the text is one piece; a run
        // followed by a non-space gives up its last character (which then starts the next
        // piece, e.g. as the space of " word") unless the run is a single character.
        int end = runEnd(s, i, n, SPACE);
        if (end == n || end - i == 1) {
            return end;
        }
        return end - 1; // White_Space characters are all single chars (BMP)
    }

    /** End of the run of code points of class {@code k} starting at {@code i}. */
    private static int runEnd(CharSequence s, int i, int n, int k) {
        int j = i;
        while (j < n) {
            char c = s.charAt(j);
            if (c < 128) {
                if (ASCII[c] != k) {
                    break;
                }
                j++;
            } else {
                int cp = Character.codePointAt(s, j);
                if (classifySlow(cp) != k) {
                    break;
                }
                j += Character.charCount(cp);
            }
        }
        return j;
    }
}
