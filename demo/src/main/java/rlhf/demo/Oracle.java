package rlhf.demo;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

import rlhf.rules.RuleReward;

/**
 * The exact checker of the demo tasks: parses the prompt, computes the right answer, grades a
 * response. It is the gold reward (what the demo's accuracy is measured with, and a rule-based
 * reward PPO can use directly) and the labeller of the preference data.
 *
 * <p>Graded score, four levels, so that K = 4 rankings are strict:
 * <ul>
 *   <li>1.0 — exactly the answer (surrounding whitespace ignored): "15";</li>
 *   <li>0.5 — the right answer in a sloppy format: "answer: 15", "the answer is 15", "15.";</li>
 *   <li>0.1 — a well-formed answer of the family (a number, a word, a digit list) that is wrong:
 *       a small format credit;</li>
 *   <li>0.0 — anything else: wrong answer in a sloppy format, garbage, empty, longer than
 *       {@value #MAX_RESPONSE_CHARS} characters once trimmed (or four times that raw).</li>
 * </ul>
 * Accuracy counts only 1.0. Scoring never throws on any response; an unknown prompt is a
 * caller's error and throws, naming the prompt.
 */
public final class Oracle implements RuleReward {

    public static final double EXACT = 1.0;
    public static final double SLOPPY_RIGHT = 0.5;
    public static final double WELL_FORMED_WRONG = 0.1;
    public static final double WRONG = 0.0;

    /** Longer responses score 0 without being examined. */
    public static final int MAX_RESPONSE_CHARS = 256;

    /** The sloppy wrappings demonstrators use; %s is the bare answer. */
    public static final List<String> SLOPPY_FORMATS = List.of("answer: %s", "the answer is %s");

    private static final List<String> SLOPPY_PREFIXES = List.of("answer:", "the answer is");

    /** The problem a prompt asks, if it is one of the demo task templates. */
    public Optional<Problem> parse(String prompt) {
        return prompt == null ? Optional.empty() : Optional.ofNullable(Family.parse(prompt));
    }

    /** The problem a prompt asks, or an error naming the prompt. */
    public Problem problem(String prompt) {
        return parse(prompt).orElseThrow(() -> new IllegalArgumentException(
                "prompt is not one of the demo task templates: \"" + abbreviate(prompt) + "\""));
    }

    @Override
    public double score(String prompt, String response) {
        return grade(problem(prompt), response);
    }

    /** Whether {@code response} is exactly right (score 1). */
    public boolean isCorrect(String prompt, String response) {
        return score(prompt, response) == EXACT;
    }

    /** The graded score of a response to a parsed problem (see the class comment). */
    public static double grade(Problem p, String response) {
        if (response == null || response.length() > 4 * MAX_RESPONSE_CHARS) return WRONG;
        String s = response.strip();
        if (s.length() > MAX_RESPONSE_CHARS) return WRONG;
        if (s.equals(p.answer())) return EXACT;
        String inner = unwrap(s);
        if (inner != null) return inner.equals(p.answer()) ? SLOPPY_RIGHT : WRONG;
        return p.family().wellFormed(s) ? WELL_FORMED_WRONG : WRONG;
    }

    /** The answer inside a sloppy wrapping ("answer: x", "the answer is x", "x."), or null. */
    static String unwrap(String s) {
        String lower = s.toLowerCase(Locale.ROOT);
        for (String prefix : SLOPPY_PREFIXES) {
            if (lower.startsWith(prefix)) return stripPeriod(s.substring(prefix.length()).strip());
        }
        return s.endsWith(".") ? stripPeriod(s) : null;
    }

    private static String stripPeriod(String s) {
        return s.endsWith(".") ? s.substring(0, s.length() - 1).strip() : s;
    }

    private static String abbreviate(String s) {
        if (s == null) return "null";
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }
}
