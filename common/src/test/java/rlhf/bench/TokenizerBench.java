package rlhf.bench;

import rlhf.tokenizer.BpeTokenizer;
import rlhf.tokenizer.PreTokenizer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Single-thread speed of the GPT-2 tokenizer on a few MB of generated mixed text (prose over a
 * Zipf-distributed vocabulary of made-up words, code, numbers, CJK, emoji, whitespace runs).
 *
 * <pre>
 * java -cp common/target/classes:common/target/test-classes:$(deps) rlhf.bench.TokenizerBench [MB] [reps] [dir]
 * </pre>
 * dir holds vocab.json + merges.txt (default: the GPT-2 files in the test resources). Prints the
 * medians of encode (warm piece cache, and starting from an empty one), decode, and the pre-tokenizer alone vs
 * java.util.regex, in MB/s of UTF-8 input per second of this thread's CPU time.
 */
public final class TokenizerBench {

    public static void main(String[] args) throws Exception {
        double mb = args.length > 0 ? Double.parseDouble(args[0]) : 4;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 7;
        long load = now();
        BpeTokenizer tok = args.length > 2 ? BpeTokenizer.load(Path.of(args[2])) : loadResources();
        System.out.printf("load vocab.json + merges.txt: %.0f ms (cold JVM)%n", (now() - load) / 1e6);
        String text = mixedText((int) (mb * 1_000_000), 1234);
        double bytes = text.getBytes(StandardCharsets.UTF_8).length;
        System.out.printf("text: %.2f MB UTF-8, %d chars; vocab %d; 1 thread, MB/s of thread CPU time; %d reps after warm-up%n",
                bytes / 1e6, text.length(), tok.vocabSize(), reps);

        int[] ids = tok.encode(text);
        for (int i = 0; i < 2; i++) {
            tok.encode(text);
        }
        double[] warm = new double[reps];
        for (int r = 0; r < reps; r++) {
            long t0 = now();
            ids = tok.encode(text);
            warm[r] = bytes / 1e6 / ((now() - t0) / 1e9);
        }
        double[] cold = new double[reps];
        for (int r = 0; r < reps; r++) {
            BpeTokenizer fresh = copy(tok); // empty piece cache
            long t0 = now();
            fresh.encode(text);
            cold[r] = bytes / 1e6 / ((now() - t0) / 1e9);
        }
        double[] dec = new double[reps];
        for (int r = 0; r < reps; r++) {
            long t0 = now();
            String back = tok.decode(ids);
            dec[r] = bytes / 1e6 / ((now() - t0) / 1e9);
            if (back.length() != text.length()) {
                throw new AssertionError("decode(encode(text)) differs from text");
            }
        }
        double[] scan = new double[reps];
        double[] regex = new double[reps];
        Pattern p = Pattern.compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
                Pattern.UNICODE_CHARACTER_CLASS);
        long sink = 0;
        for (int r = 0; r < reps; r++) {
            long t0 = now();
            int pieces = 0;
            for (int i = 0, n = text.length(); i < n; pieces++) {
                i = PreTokenizer.pieceEnd(text, i, n);
            }
            scan[r] = bytes / 1e6 / ((now() - t0) / 1e9);
            t0 = now();
            Matcher m = p.matcher(text);
            int matches = 0;
            while (m.find()) {
                matches++;
            }
            regex[r] = bytes / 1e6 / ((now() - t0) / 1e9);
            if (matches != pieces) {
                throw new AssertionError("scanner " + pieces + " pieces, regex " + matches);
            }
            sink += pieces;
        }
        System.out.printf("tokens: %d (%.2f bytes/token)%n", ids.length, bytes / ids.length);
        System.out.printf("encode, warm cache : %7.1f MB/s (%.2f M tokens/s)%n", median(warm), median(warm) * 1e6 / bytes * ids.length / 1e6);
        System.out.printf("encode, empty cache: %7.1f MB/s%n", median(cold));
        System.out.printf("decode             : %7.1f MB/s%n", median(dec));
        System.out.printf("pre-tokenizer only : %7.1f MB/s scanner vs %.1f MB/s java.util.regex (%d pieces)%n",
                median(scan), median(regex), sink / reps);
    }

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /**
     * This thread's CPU time in ns: the machines are shared, and CPU time measures the work of one
     * thread even while other processes take turns on its core (wall time would not).
     */
    static long now() {
        return THREADS.getCurrentThreadCpuTime();
    }

    static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    static BpeTokenizer loadResources() throws Exception {
        try (InputStream v = TokenizerBench.class.getResourceAsStream("/gpt2-tokenizer/vocab.json");
             InputStream m = TokenizerBench.class.getResourceAsStream("/gpt2-tokenizer/merges.txt")) {
            return BpeTokenizer.load(v, m, "vocab.json", "merges.txt");
        }
    }

    static BpeTokenizer copy(BpeTokenizer tok) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (ObjectOutputStream o = new ObjectOutputStream(b)) {
            o.writeObject(tok);
        }
        try (ObjectInputStream i = new ObjectInputStream(new ByteArrayInputStream(b.toByteArray()))) {
            return (BpeTokenizer) i.readObject();
        }
    }

    /** About {@code chars} chars of seeded mixed text. */
    static String mixedText(int chars, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        String[] syllables = {"ka", "to", "ri", "ne", "sa", "mo", "lu", "pe", "the", "an", "in", "er", "on", "st",
            "re", "al", "ing", "tion", "qu", "ex", "pr", "ch", "sh", "ou", "ea"};
        String[] vocab = new String[50_000];
        for (int i = 0; i < vocab.length; i++) {
            StringBuilder w = new StringBuilder();
            for (int k = 1 + rnd.nextInt(4); k > 0; k--) {
                w.append(syllables[rnd.nextInt(syllables.length)]);
            }
            vocab[i] = rnd.nextInt(10) == 0 ? Character.toUpperCase(w.charAt(0)) + w.substring(1) : w.toString();
        }
        String[] code = {"for (int i = 0; i < n; i++) {\n", "    out[i] += a[i] * b[i];\n", "}\n",
            "\tif (x != null && x.size() > 0) return x.get(0);\n", "def f(x):\n    return {'k': [1, 2, 3]}\n",
            "        // TODO: handle the edge case\n"};
        String[] cjk = {"\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002", "\u4e2d\u6587\u5206\u8bcd\u6d4b\u8bd5\uff0c",
            "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8", "\u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442"};
        String[] emoji = {"\ud83d\ude00", "\ud83d\udc4d\ud83c\udffd", "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67", "\u2764\ufe0f"};
        String[] punct = {".", ",", "!", "?", ";", ":", " -", "'s", "'t", "\"", " (", ")"};
        StringBuilder sb = new StringBuilder(chars + 100);
        while (sb.length() < chars) {
            int kind = rnd.nextInt(100);
            if (kind < 80) { // a sentence, Zipf-ish word ranks
                for (int k = 5 + rnd.nextInt(20); k > 0; k--) {
                    double u = rnd.nextDouble();
                    int rank = (int) Math.min(vocab.length - 1, Math.floor(Math.exp(u * Math.log(vocab.length))) - 1);
                    sb.append(' ').append(vocab[rank]);
                    if (rnd.nextInt(8) == 0) {
                        sb.append(punct[rnd.nextInt(punct.length)]);
                    }
                    if (rnd.nextInt(30) == 0) {
                        sb.append(' ').append(rnd.nextInt(100_000));
                    }
                }
                sb.append(rnd.nextInt(4) == 0 ? ".\n\n" : ".");
            } else if (kind < 92) {
                sb.append(code[rnd.nextInt(code.length)]);
            } else if (kind < 97) {
                sb.append(cjk[rnd.nextInt(cjk.length)]);
            } else if (kind < 99) {
                sb.append(' ').append(emoji[rnd.nextInt(emoji.length)]);
            } else {
                sb.append(" ".repeat(1 + rnd.nextInt(30))).append('\n');
            }
        }
        return sb.toString();
    }
}
