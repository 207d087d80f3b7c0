package rlhf.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/** Each built-in rule on cases worked out by hand, and on inputs a model can emit that no rule may fail on. */
class BuiltinRulesTest {

    @Test
    void exactMatchComparesWithTheReferenceUpToOuterAndRepeatedWhitespace() {
        RuleReward exact = new BuiltinRules.ExactMatch();
        assertEquals(1, exact.score("q", " 42\n", "42"));
        assertEquals(1, exact.score("q", "New  York", "New York"));
        assertEquals(0, exact.score("q", "new york", "New York"), "case counts");
        assertEquals(0, exact.score("q", "42", "4"));
        assertEquals(0, exact.score("q", "42", null), "no reference: nothing matches");
        assertEquals(0, exact.score("q", "42"), "without the reference form");
    }

    @Test
    void regexMatchFindsOrMatchesTheWholeResponse() {
        RuleReward find = new BuiltinRules.RegexMatch(Pattern.compile("\\d+"), false);
        RuleReward full = new BuiltinRules.RegexMatch(Pattern.compile("\\d+"), true);
        assertEquals(1, find.score("q", "answer: 12"));
        assertEquals(0, full.score("q", "answer: 12"));
        assertEquals(1, full.score("q", " 12 "), "ends stripped");
        assertEquals(0, find.score("q", "none"));
    }

    @Test
    void numberMatchReadsTheLastNumberWithinTheTolerance() {
        RuleReward abs = new BuiltinRules.NumberMatch(0.01, false);
        RuleReward rel = new BuiltinRules.NumberMatch(0.1, true);
        assertEquals(1, abs.score("q", "3 + 4 = 7", "7"));
        assertEquals(1, abs.score("q", "about 7.004", "7"));
        assertEquals(0, abs.score("q", "7.1", "7"));
        assertEquals(1, abs.score("q", "total: 1,234.5", "1234.5"), "digit-group commas");
        assertEquals(1, abs.score("q", "-2.5e1", "the answer is -25"));
        assertEquals(1, rel.score("q", "95", "100"), "within 10% of 100");
        assertEquals(0, rel.score("q", "89", "100"));
        assertEquals(0, abs.score("q", "seven", "7"), "no number in the response");
        assertEquals(0, abs.score("q", "7", "seven"), "no number in the reference");
        assertEquals(0, abs.score("q", "1e999", "1e999"), "an overflowing number is no number");
        assertEquals(0, abs.score("q", "7", null));
    }

    @Test
    void lengthPenaltyIsZeroUpToTheTargetThenLinear() {
        RuleReward len = new BuiltinRules.LengthPenalty(10);
        assertEquals(0, len.score("q", "short"));
        assertEquals(0, len.score("q", "0123456789"));
        assertEquals(-0.5, len.score("q", "012345678901234"), 1e-15);
        assertEquals(-1, len.score("q", "01234567890123456789"), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> new BuiltinRules.LengthPenalty(0));
    }

    @Test
    void everyRuleGivesAFiniteScoreToWhateverAModelEmits() {
        String huge = "9".repeat(10_000_000);
        String aaaa = "a".repeat(50_000) + "!";
        List<RuleReward> rules = List.of(new BuiltinRules.ExactMatch(),
                new BuiltinRules.RegexMatch(Pattern.compile("(a+)+b"), false), // catastrophic on long a's
                new BuiltinRules.RegexMatch(Pattern.compile(".*"), true), new BuiltinRules.NumberMatch(0, false),
                new BuiltinRules.LengthPenalty(5));
        for (RuleReward r : rules) {
            for (String response : List.of("", " ", "\u0000\uFFFF\uD800", huge, aaaa, "-", ".", "e5", "1e", ",,,")) {
                for (String reference : new String[] {null, "", "5", huge}) {
                    long t0 = System.nanoTime();
                    double s = r.score("q", response, reference);
                    assertTrue(Double.isFinite(s), r + " on a response of " + response.length() + " chars: " + s);
                    assertTrue(System.nanoTime() - t0 < 5_000_000_000L, r + " took over 5 s");
                }
            }
        }
    }
}
