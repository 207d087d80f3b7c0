package rlhf.demo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The six task families of the demo: templated prompts with one exact short answer each, a
 * hard sub-family where demonstrators usually make one systematic mistake, and the plausible
 * wrong answers a demonstrator writes.
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
    };

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
