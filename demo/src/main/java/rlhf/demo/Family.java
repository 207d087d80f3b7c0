package rlhf.demo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The task families: templated prompts with one exact short answer each, a hard sub-family where
 * demonstrators usually make one systematic mistake, and the plausible wrong answers a
 * demonstrator writes. The demo runs its six ({@link #DEMO}); three more ({@link #FRESH}), with
 * other answer shapes, were made to check that settings carry over to tasks they were not tuned on.
 *
 * <p>Operand ranges are deliberately small (single digits, a few dozen words) so that a tiny GPT
 * trained from scratch in minutes can memorise every fact: the demo is about which of the
 * answers it already knows the policy prefers, not about learning arithmetic.
 */
public enum Family {

    /** "add 7 and 8" -> "15". Hard: a carry (sum >= 10), answered with the carry dropped ("5"). */
    ADD("add", "carry", "nocarry",
            t("", "add {0} and {1}"), t("", "what is {0} plus {1}"), t("", "{0} + {1} ="),
            t("", "the sum of {0} and {1}")) {
        @Override Problem sample(SplittableRandom r, boolean hard) {
            while (true) {
                int a = r.nextInt(10), b = r.nextInt(10);
                if ((a + b >= 10) == hard) return render(r, "", List.of(Integer.toString(a), Integer.toString(b)));
            }
        }
        @Override Problem make(String variant, List<String> args, String prompt) {
            if (!isNumber(args.get(0), 1) || !isNumber(args.get(1), 1)) return null;
            int s = Integer.parseInt(args.get(0)) + Integer.parseInt(args.get(1));
            return new Problem(this, variant, args, prompt, Integer.toString(s), s >= 10);
        }
        @Override List<String> mistakes(Problem p) {
            int s = Integer.parseInt(p.answer());
            return p.hard() ? distinctWrong(p, "" + (s - 10), "" + (s + 1), "" + (s - 1))
                            : distinctWrong(p, "" + (s + 1), s > 0 ? "" + (s - 1) : "" + (s + 2));
        }
        @Override boolean wellFormed(String s) { return isNumber(s, 3); }
    },

    /** "reverse the word horse" -> "esroh". Hard: 5+ letters, only the tail reversed ("hesro"). */
    REVERSE("reverse", "long", "short",
            t("", "reverse the word {0}"), t("", "spell {0} backwards"), t("", "write {0} in reverse")) {
        @Override Problem sample(SplittableRandom r, boolean hard) {
            return render(r, "", List.of(pickWord(r, w -> (w.length() >= 5) == hard)));
        }
        @Override Problem make(String variant, List<String> args, String prompt) {
            String w = args.get(0);
            if (!isLower(w) || w.length() < 2) return null;
            return new Problem(this, variant, args, prompt, reverse(w), w.length() >= 5);
        }
        @Override List<String> mistakes(Problem p) {
            String w = p.args().get(0);
            String tail = w.charAt(0) + reverse(w.substring(1));
            String ends = w.charAt(w.length() - 1) + w.substring(1, w.length() - 1) + w.charAt(0);
            return p.hard() ? distinctWrong(p, tail, w, ends) : distinctWrong(p, w, tail, ends);
        }
        @Override boolean wellFormed(String s) { return isLower(s); }
    },

    /** "sort 3 1 2" -> "1 2 3". Hard: descending order asked, ascending given. */
    SORT("sort", "desc", "asc",
            t("asc", "sort {0}"), t("asc", "sort the numbers {0}"), t("asc", "put {0} in order"),
            t("desc", "sort {0} in descending order"), t("desc", "sort the numbers {0} from largest to smallest"),
            t("desc", "put {0} in reverse order")) {
        @Override Problem sample(SplittableRandom r, boolean hard) {
            return render(r, hard ? "desc" : "asc", List.of(digitList(r, 1, 7, 3)));
        }
        @Override Problem make(String variant, List<String> args, String prompt) {
            int[] xs = parseDigitList(args.get(0));
            if (xs == null) return null;
            boolean desc = variant.equals("desc");
            return new Problem(this, variant, args, prompt, join(sorted(xs, desc)), desc);
        }
        @Override List<String> mistakes(Problem p) {
            int[] xs = parseDigitList(p.args().get(0));
            boolean desc = p.hard();
            String opposite = join(sorted(xs, !desc));
            String lastSwapped = join(swapLastTwo(sorted(xs, desc)));
            return desc ? distinctWrong(p, opposite, lastSwapped, join(xs))
                        : distinctWrong(p, lastSwapped, join(xs), opposite);
        }
        @Override boolean wellFormed(String s) { return parseDigitList(s) != null; }
    },

    /** "count the letters in banana" -> "6". Hard: a repeated letter, distinct letters counted ("3"). */
    COUNT("count", "repeats", "distinct",
            t("", "count the letters in {0}"), t("", "how many letters are in {0}"),
            t("", "what is the length of {0}")) {
        @Override Problem sample(SplittableRandom r, boolean hard) {
            return render(r, "", List.of(pickWord(r, w -> hasRepeat(w) == hard)));
        }
        @Override Problem make(String variant, List<String> args, String prompt) {
            String w = args.get(0);
            if (!isLower(w)) return null;
            return new Problem(this, variant, args, prompt, Integer.toString(w.length()), hasRepeat(w));
        }
        @Override List<String> mistakes(Problem p) {
            String w = p.args().get(0);
            int n = w.length();
            long distinct = w.chars().distinct().count();
            return p.hard() ? distinctWrong(p, "" + distinct, "" + (n + 1), "" + (n - 1))
                            : distinctWrong(p, "" + (n + 1), "" + (n - 1));
        }
        @Override boolean wellFormed(String s) { return isNumber(s, 3); }
    },

    /** "max of 3 8 1" -> "8". Hard: the minimum asked, the maximum given. */
    MAX("max", "min", "max",
            t("max", "max of {0}"), t("max", "largest of {0}"), t("max", "what is the biggest of {0}"),
            t("min", "min of {0}"), t("min", "smallest of {0}"), t("min", "what is the smallest of {0}")) {
        @Override Problem sample(SplittableRandom r, boolean hard) {
            return render(r, hard ? "min" : "max", List.of(digitList(r, 1, 9, 3)));
        }
        @Override Problem make(String variant, List<String> args, String prompt) {
            int[] xs = parseDigitList(args.get(0));
            if (xs == null) return null;
            boolean min = variant.equals("min");
            int[] s = sorted(xs, false);
            return new Problem(this, variant, args, prompt, "" + (min ? s[0] : s[s.length - 1]), min);
        }
        @Override List<String> mistakes(Problem p) {
            int[] s = sorted(parseDigitList(p.args().get(0)), false);
            String[] ms = new String[s.length];
            // The opposite extreme first (the systematic mistake of the hard side), then the rest.
            ms[0] = "" + (p.hard() ? s[s.length - 1] : s[0]);
            for (int i = 1; i < s.length; i++) ms[i] = "" + s[p.hard() ? i - 1 : i];
            return distinctWrong(p, ms);
        }
        @Override boolean wellFormed(String s) { return isNumber(s, 3); }
    },

    /** "uppercase dog" -> "DOG". Hard: 5+ letters, only the first letter capitalised ("Horse"). */
    UPPER("upper", "long", "short",
            t("", "uppercase {0}"), t("", "write {0} in capitals"), t("", "{0} in upper case")) {
        @Override Problem sample(SplittableRandom r, boolean hard) {
            return render(r, "", List.of(pickWord(r, w -> (w.length() >= 5) == hard)));
        }
        @Override Problem make(String variant, List<String> args, String prompt) {
            String w = args.get(0);
            if (!isLower(w)) return null;
            return new Problem(this, variant, args, prompt, w.toUpperCase(Locale.ROOT), w.length() >= 5);
        }
        @Override List<String> mistakes(Problem p) {
            String w = p.args().get(0);
            String title = Character.toUpperCase(w.charAt(0)) + w.substring(1);
            return distinctWrong(p, title, w);
        }
        @Override boolean wellFormed(String s) {
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z')) return false;
            }
            return !s.isEmpty();
        }
    },

    // ---- families the demo's settings were never tuned on (FRESH): other answer shapes -------

    /**
     * A word: "plural of mouse" -> "mice". Hard: an irregular noun, made regular ("mouses").
     * Easy: a regular one, whose slips are the echoed word and the wrong suffix ("boxs", "citys").
     */
    PLURAL("plural", "irregular", "regular",
            t("", "plural of {0}"), t("", "what is the plural of {0}"), t("", "more than one {0} are called")) {
        @Override Problem sample(SplittableRandom r, boolean hard) {
            List<String> ws = hard ? IRREGULAR_SINGULARS : REGULAR_SINGULARS;
            return render(r, "", List.of(ws.get(r.nextInt(ws.size()))));
        }
        @Override Problem make(String variant, List<String> args, String prompt) {
            String w = args.get(0);
            String irregular = IRREGULAR_PLURALS.get(w);
            if (irregular != null) return new Problem(this, variant, args, prompt, irregular, true);
            if (!REGULAR_SINGULARS.contains(w)) return null;
            return new Problem(this, variant, args, prompt, regularPlural(w), false);
        }
        @Override List<String> mistakes(Problem p) {
            String w = p.args().get(0);
            // the systematic slip of the hard side: the regular rule applied to an irregular noun
            return p.hard() ? distinctWrong(p, regularPlural(w), w, w + "es")
                            : distinctWrong(p, w, w + "s", w + "es");
        }
        @Override boolean wellFormed(String s) { return isLower(s); }
    },

    /**
     * A number: "what is 7 times 8" -> "56". Hard: a factor of 7 or more, answered one row off in
     * the table (7 x 7 = "49" for 7 x 8). Easy: both factors below 7, slips off by one.
     */
    MULTIPLY("multiply", "big", "small",
            t("", "what is {0} times {1}"), t("", "multiply {0} by {1}"), t("", "{0} x {1} =")) {
        @Override Problem sample(SplittableRandom r, boolean hard) {
            while (true) {
                int a = 2 + r.nextInt(8), b = 2 + r.nextInt(8);
                if ((Math.max(a, b) >= 7) == hard) return render(r, "", List.of(Integer.toString(a), Integer.toString(b)));
            }
        }
        @Override Problem make(String variant, List<String> args, String prompt) {
            if (!isNumber(args.get(0), 1) || !isNumber(args.get(1), 1)) return null;
            int a = Integer.parseInt(args.get(0)), b = Integer.parseInt(args.get(1));
            return new Problem(this, variant, args, prompt, Integer.toString(a * b), Math.max(a, b) >= 7);
        }
        @Override List<String> mistakes(Problem p) {
            int a = Integer.parseInt(p.args().get(0)), b = Integer.parseInt(p.args().get(1));
            return p.hard() ? distinctWrong(p, "" + a * (b - 1), "" + (a * b + 1), "" + (a * b - 1), "" + (a + b))
                            : distinctWrong(p, "" + (a * b + 1), "" + (a * b - 1), "" + (a + b));
        }
        @Override boolean wellFormed(String s) { return isNumber(s, 3); }
    },

    /**
     * A short list: "count from 12 to 15" -> "12 13 14 15". Hard: counting down, answered counting
     * up ("count down from 15 to 12" -> "12 13 14 15"). Its prompts are split by their numbers, not
     * their wording: a held-out prompt is a range never seen in training, so the reward model has
     * to generalise "the order asked for" instead of recalling answers.
     */
    RANGE("range", "down", "up",
            t("up", "count from {0} to {1}"), t("up", "list the numbers from {0} to {1}"),
            t("down", "count down from {0} to {1}"), t("down", "list the numbers from {0} down to {1}")) {
        @Override Problem sample(SplittableRandom r, boolean hard) {
            int lo = r.nextInt(RANGE_MAX - 5), hi = lo + 2 + r.nextInt(3); // 3 to 5 numbers
            return hard ? render(r, "down", List.of("" + hi, "" + lo)) : render(r, "up", List.of("" + lo, "" + hi));
        }
        @Override Problem make(String variant, List<String> args, String prompt) {
            if (!isNumber(args.get(0), 2) || !isNumber(args.get(1), 2)) return null;
            int from = Integer.parseInt(args.get(0)), to = Integer.parseInt(args.get(1));
            boolean down = variant.equals("down");
            int n = (down ? from - to : to - from) + 1;
            if (n < 2 || n > 8) return null;
            return new Problem(this, variant, args, prompt, join(count(from, to)), down);
        }
        @Override List<String> mistakes(Problem p) {
            int from = Integer.parseInt(p.args().get(0)), to = Integer.parseInt(p.args().get(1));
            int step = p.hard() ? -1 : 1;
            String upInstead = join(count(to, from)); // the hard side's slip: the same numbers, the other way
            String shortEnd = join(count(from, to - step));
            String longEnd = to + step >= 0 ? join(count(from, to + step)) : shortEnd; // no "-1" when counting down to 0
            return p.hard() ? distinctWrong(p, upInstead, shortEnd, longEnd)
                            : distinctWrong(p, shortEnd, longEnd, upInstead);
        }
        @Override boolean wellFormed(String s) { return parseNumberList(s) != null; }
        @Override String splitKey(Problem p) { return id() + " " + p.variant() + " " + String.join(" ", p.args()); }
    };

    /** The demo's own six families (what its settings were chosen with). */
    public static final List<Family> DEMO = List.of(ADD, REVERSE, SORT, COUNT, MAX, UPPER);

    /**
     * Families designed after the demo's settings were fixed, with other answer shapes (a word, a
     * number, a list) and, in RANGE, held-out prompts that are unseen combinations: a check that
     * defaults carry over to tasks nobody tuned them on.
     */
    public static final List<Family> FRESH = List.of(PLURAL, MULTIPLY, RANGE);

    /** RANGE numbers lie in 0..RANGE_MAX-1. */
    static final int RANGE_MAX = 40;

    /** Regular nouns of PLURAL: +s, +es after s/x/ch/sh, consonant + y -> ies. */
    static final List<String> REGULAR_SINGULARS = List.of(
            "cat", "dog", "book", "tree", "car", "pen", "cup", "hat", "bird", "star", "lamp", "door", "ship",
            "cake", "frog", "box", "fox", "bus", "dish", "glass", "church", "city", "baby", "lady", "party");

    /** Irregular nouns of PLURAL and their plurals. */
    static final Map<String, String> IRREGULAR_PLURALS = Map.ofEntries(
            Map.entry("mouse", "mice"), Map.entry("child", "children"),
            Map.entry("foot", "feet"), Map.entry("tooth", "teeth"),
            Map.entry("man", "men"), Map.entry("woman", "women"),
            Map.entry("goose", "geese"), Map.entry("person", "people"),
            Map.entry("ox", "oxen"), Map.entry("leaf", "leaves"),
            Map.entry("knife", "knives"), Map.entry("wolf", "wolves"),
            Map.entry("wife", "wives"), Map.entry("half", "halves"));

    static final List<String> IRREGULAR_SINGULARS = IRREGULAR_PLURALS.keySet().stream().sorted().toList();

    /**
     * The words of the word families: short (3-4 letters) and long (5-6), with and without a
     * repeated letter, no palindromes, so every hard/easy bucket of every family is populated.
     */
    public static final List<String> WORDS = List.of(
            "cat", "dog", "sun", "pen", "cup", "map", "box", "hat", "bus", "car", "fish", "frog",
            "milk", "book", "tree", "star", "lamp", "door", "ship", "cake", "bird", "rain", "moon", "king",
            "horse", "apple", "table", "green", "house", "mouse", "river", "stone", "chair", "bread",
            "plant", "light", "cloud", "water", "smile", "truck", "lemon", "tiger", "banana", "letter",
            "coffee", "yellow", "pepper", "little", "sheep", "happy", "bottle", "school", "garden", "window");

    private final String id;
    private final String hardName;
    private final String easyName;
    private final List<Template> templates;

    Family(String id, String hardName, String easyName, Template... templates) {
        this.id = id;
        this.hardName = hardName;
        this.easyName = easyName;
        this.templates = List.of(templates);
    }

    /** Lower-case name used in files and metrics ("add"). */
    public String id() { return id; }

    public String hardName() { return hardName; }

    public String easyName() { return easyName; }

    /** A random instance of the hard or easy sub-family, worded with a random template. */
    abstract Problem sample(SplittableRandom r, boolean hard);

    /** The problem for parsed operands, or null when they are not valid operands of this family. */
    abstract Problem make(String variant, List<String> args, String prompt);

    abstract List<String> mistakes(Problem p);

    /** Whether a bare response has the shape of an answer of this family (a number, a word, ...). */
    abstract boolean wellFormed(String s);

    /**
     * What decides a problem's train / held-out split: its prompt text (a held-out problem may be
     * trained on in another wording), or for a family that tests generalisation its operands.
     */
    String splitKey(Problem p) {
        return p.prompt();
    }

    /** Parses {@code prompt} as any template of any family; null when none matches. */
    static Problem parse(String prompt) {
        String p = prompt.strip();
        for (Family f : values()) {
            for (Template t : f.templates) {
                Matcher m = t.regex.matcher(p);
                if (!m.matches()) continue;
                List<String> args = new ArrayList<>();
                for (int g = 1; g <= m.groupCount(); g++) args.add(m.group(g));
                Problem pr = f.make(t.variant, args, p);
                if (pr != null) return pr;
            }
        }
        return null;
    }

    Problem render(SplittableRandom r, String variant, List<String> args) {
        List<Template> ts = templates.stream().filter(t -> t.variant.equals(variant)).toList();
        Template t = ts.get(r.nextInt(ts.size()));
        String prompt = t.text;
        for (int i = 0; i < args.size(); i++) prompt = prompt.replace("{" + i + "}", args.get(i));
        return make(variant, args, prompt);
    }

    /** A prompt template: literal text with {0}, {1} operand slots, and the variant it asks for. */
    record Template(String variant, String text, Pattern regex) {}

    private static Template t(String variant, String text) {
        StringBuilder re = new StringBuilder();
        Matcher m = Pattern.compile("\\{\\d}").matcher(text);
        int last = 0;
        while (m.find()) {
            re.append(Pattern.quote(text.substring(last, m.start()))).append("(.+?)");
            last = m.end();
        }
        re.append(Pattern.quote(text.substring(last)));
        return new Template(variant, text, Pattern.compile(re.toString()));
    }

    // ---- helpers over operands -------------------------------------------------------------

    private static List<String> distinctWrong(Problem p, String... candidates) {
        LinkedHashSet<String> out = new LinkedHashSet<>();
        for (String c : candidates) if (!c.equals(p.answer()) && !c.startsWith("-")) out.add(c);
        return List.copyOf(out);
    }

    private static String pickWord(SplittableRandom r, java.util.function.Predicate<String> keep) {
        List<String> ws = WORDS.stream().filter(keep).toList();
        return ws.get(r.nextInt(ws.size()));
    }

    /** n distinct digits from lo..hi in random order, space separated. */
    private static String digitList(SplittableRandom r, int lo, int hi, int n) {
        int[] xs = new int[n];
        for (int i = 0; i < n; i++) {
            int x;
            do { x = lo + r.nextInt(hi - lo + 1); } while (contains(xs, i, x));
            xs[i] = x;
        }
        return join(xs);
    }

    private static boolean contains(int[] xs, int n, int x) {
        for (int i = 0; i < n; i++) if (xs[i] == x) return true;
        return false;
    }

    /** Digits separated by single spaces, 2 to 8 of them; null otherwise. */
    static int[] parseDigitList(String s) {
        int n = (s.length() + 1) / 2;
        if (s.length() % 2 == 0 || n < 2 || n > 8) return null;
        int[] xs = new int[n];
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (i % 2 == 0) {
                if (c < '0' || c > '9') return null;
                xs[i / 2] = c - '0';
            } else if (c != ' ') {
                return null;
            }
        }
        return xs;
    }

    /** Non-negative numbers of at most 2 digits separated by single spaces, 2 to 8 of them; null otherwise. */
    static int[] parseNumberList(String s) {
        String[] parts = s.split(" ", -1);
        if (parts.length < 2 || parts.length > 8) return null;
        int[] xs = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            if (!isNumber(parts[i], 2)) return null;
            xs[i] = Integer.parseInt(parts[i]);
        }
        return xs;
    }

    /** from, from +- 1, ..., to (towards to). */
    private static int[] count(int from, int to) {
        int step = to >= from ? 1 : -1;
        int[] xs = new int[Math.abs(to - from) + 1];
        for (int i = 0; i < xs.length; i++) xs[i] = from + i * step;
        return xs;
    }

    private static String regularPlural(String w) {
        if (w.endsWith("s") || w.endsWith("x") || w.endsWith("ch") || w.endsWith("sh")) return w + "es";
        if (w.endsWith("y") && w.length() > 1 && "aeiou".indexOf(w.charAt(w.length() - 2)) < 0) {
            return w.substring(0, w.length() - 1) + "ies";
        }
        return w + "s";
    }

    private static int[] sorted(int[] xs, boolean desc) {
        int[] s = xs.clone();
        Arrays.sort(s);
        if (desc) for (int i = 0, j = s.length - 1; i < j; i++, j--) { int t = s[i]; s[i] = s[j]; s[j] = t; }
        return s;
    }

    private static int[] swapLastTwo(int[] xs) {
        int[] s = xs.clone();
        int n = s.length;
        int t = s[n - 1]; s[n - 1] = s[n - 2]; s[n - 2] = t;
        return s;
    }

    private static String join(int[] xs) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < xs.length; i++) b.append(i == 0 ? "" : " ").append(xs[i]);
        return b.toString();
    }

    /** 1 to maxDigits decimal digits, no sign, no leading zero unless "0". */
    private static boolean isNumber(String s, int maxDigits) {
        if (s.isEmpty() || s.length() > maxDigits || (s.length() > 1 && s.charAt(0) == '0')) return false;
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) < '0' || s.charAt(i) > '9') return false;
        return true;
    }

    private static boolean isLower(String s) {
        if (s.isEmpty() || s.length() > 16) return false;
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) < 'a' || s.charAt(i) > 'z') return false;
        return true;
    }

    private static boolean hasRepeat(String w) {
        return w.chars().distinct().count() < w.length();
    }

    private static String reverse(String w) {
        return new StringBuilder(w).reverse().toString();
    }
}
