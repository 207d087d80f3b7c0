package rlhf.rules;

import java.io.Serializable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The rules a job can name without writing a class ({@code reward.rule = exact | regex | number |
 * length}, or as terms of {@code reward.sum}). Each is total: any response, however long or
 * garbled, gets a finite score. Responses are read up to {@link #MAX_CHARS} characters, so that a
 * runaway response costs a bounded time (a regular expression that backtracks catastrophically can
 * still be slow on 4,096 characters: keep {@code reward.regex} simple).
 */
public final class BuiltinRules {

    /** Characters of a response (and of a reference) a built-in rule reads. */
    public static final int MAX_CHARS = 4096;

    private static final Pattern WHITESPACE_RUN = Pattern.compile("\\s+");

    private BuiltinRules() {
    }

    static String head(String s) {
        return s.length() <= MAX_CHARS ? s : s.substring(0, MAX_CHARS);
    }

    /** Whitespace at the ends dropped, inner runs of whitespace as one space. */
    static String normalise(String s) {
        return WHITESPACE_RUN.matcher(head(s).strip()).replaceAll(" ");
    }

    /** 1 when the response equals the reference (ends stripped, inner whitespace runs as one space), else 0. */
    public record ExactMatch() implements RuleReward, Serializable {
        @Override
        public double score(String prompt, String response) {
            return 0; // nothing to compare with
        }

        @Override
        public double score(String prompt, String response, String reference) {
            return reference != null && normalise(response).equals(normalise(reference)) ? 1 : 0;
        }
    }

    /**
     * 1 when the regular expression is found in the response ({@code full}: matches all of it, ends
     * stripped), else 0. The reference is not used.
     */
    public record RegexMatch(Pattern pattern, boolean full) implements RuleReward, Serializable {
        @Override
        public double score(String prompt, String response) {
            String text = head(response);
            return (full ? pattern.matcher(text.strip()).matches() : pattern.matcher(text).find()) ? 1 : 0;
        }
    }

    /**
     * 1 when the last number in the response is within {@code tolerance} of the reference's number
     * ({@code relative}: within tolerance × |reference|), else 0; 0 when either has no number.
     * Numbers are read with a '.' decimal point, optional sign and exponent; commas between
     * digit groups ("1,234") are ignored.
     */
    public record NumberMatch(double tolerance, boolean relative) implements RuleReward, Serializable {

        private static final Pattern NUMBER = Pattern.compile("[-+]?(?:\\d[\\d,]*(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?");

        @Override
        public double score(String prompt, String response) {
            return 0; // nothing to compare with
        }

        @Override
        public double score(String prompt, String response, String reference) {
            if (reference == null) {
                return 0;
            }
            double want = last(reference);
            double got = last(response);
            if (Double.isNaN(want) || Double.isNaN(got)) {
                return 0;
            }
            double allowed = relative ? tolerance * Math.abs(want) : tolerance;
            return Math.abs(got - want) <= allowed ? 1 : 0;
        }

        /** The last number in {@code s}, or NaN when there is none (or it overflows to infinity). */
        static double last(String s) {
            Matcher m = NUMBER.matcher(head(s));
            String found = null;
            while (m.find()) {
                found = m.group();
            }
            if (found == null) {
                return Double.NaN;
            }
            try {
                double v = Double.parseDouble(found.replace(",", ""));
                return Double.isFinite(v) ? v : Double.NaN;
            } catch (NumberFormatException e) {
                return Double.NaN;
            }
        }
    }

    /**
     * −max(0, characters − target) / target: 0 up to {@code target} characters, −1 at twice as
     * many. Its weight in {@code reward.sum} sets how much length costs. The reference is not used.
     */
    public record LengthPenalty(int target) implements RuleReward, Serializable {
        public LengthPenalty {
            if (target < 1) {
                throw new IllegalArgumentException("length target must be >= 1 character, found " + target);
            }
        }

        @Override
        public double score(String prompt, String response) {
            return -Math.max(0, response.length() - target) / (double) target;
        }
    }
}
