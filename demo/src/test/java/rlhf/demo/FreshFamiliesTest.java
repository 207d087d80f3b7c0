package rlhf.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/** The three families the demo was not tuned on: answers by hand, slips, and RANGE's split by numbers. */
class FreshFamiliesTest {

    private final Oracle oracle = new Oracle();

    private void check(String prompt, String response, double expected) {
        assertEquals(expected, oracle.score(prompt, response), 0.0,
                () -> "score of \"" + response + "\" for \"" + prompt + "\"");
    }

    @Test
    void pluralKnowsIrregularNounsAndTheRegularSuffixes() {
        check("plural of mouse", "mice", 1.0);
        check("what is the plural of child", "children", 1.0);
        check("more than one leaf are called", "leaves", 1.0);
        check("plural of box", "boxes", 1.0);
        check("plural of city", "cities", 1.0);
        check("plural of cat", "cats", 1.0);
        check("plural of mouse", "mouses", 0.1);       // the systematic slip: the regular rule
        check("plural of mouse", "answer: mice", 0.5);
        check("plural of box", "boxs", 0.1);
        check("plural of mouse", "mice!", 0.0);
        assertEquals("mouses", oracle.problem("plural of mouse").mistakes().get(0));
        assertEquals("plural.irregular", oracle.problem("plural of goose").subfamily());
        assertEquals("plural.regular", oracle.problem("plural of church").subfamily());
        assertTrue(oracle.parse("plural of unicorn").isEmpty(), "an unknown noun is not a problem of the family");
    }

    @Test
    void multiplyIsTheTimesTableAndTheSlipIsOneRowOff() {
        check("what is 7 times 8", "56", 1.0);
        check("multiply 3 by 4", "12", 1.0);
        check("9 x 9 =", "81", 1.0);
        check("what is 7 times 8", "49", 0.1);         // 7 x 7: one row off
        check("what is 7 times 8", "the answer is 56", 0.5);
        Problem p = oracle.problem("what is 7 times 8");
        assertEquals("49", p.mistakes().get(0));
        assertEquals("multiply.big", p.subfamily());
        assertEquals("multiply.small", oracle.problem("what is 3 times 4").subfamily());
    }

    @Test
    void rangeCountsBothWaysAndTheSlipCountsUp() {
        check("count from 12 to 15", "12 13 14 15", 1.0);
        check("list the numbers from 3 to 5", "3 4 5", 1.0);
        check("count down from 15 to 12", "15 14 13 12", 1.0);
        check("list the numbers from 9 down to 7", "9 8 7", 1.0);
        check("count down from 15 to 12", "12 13 14 15", 0.1); // counted up
        check("count from 12 to 15", "12 13 14", 0.1);
        check("count from 12 to 15", "12, 13, 14, 15", 0.0);
        assertEquals("12 13 14 15", oracle.problem("count down from 15 to 12").mistakes().get(0));
        assertEquals("range.down", oracle.problem("count down from 3 to 0").subfamily());
        assertTrue(oracle.problem("count down from 3 to 0").mistakes().stream().noneMatch(m -> m.contains("-")));
        assertTrue(oracle.parse("count from 5 to 3").isEmpty(), "counting up from 5 to 3 is not a range problem");
    }

    @Test
    void freshDataHoldsOnlyFreshFamiliesAndRangeHeldOutNumbersAreNeverTrainedOn() {
        DemoData.Config c = new DemoData.Config(9, 3000, 0, 500, 0, 0, 4, 500, 600, 0.2, 0.5, MistakeModel.DEFAULT,
                Family.FRESH);
        DemoData.Generated g = DemoData.generate(c);
        Set<String> trainRanges = new HashSet<>();
        for (DemoData.Sft s : g.sftTrain()) {
            Problem p = oracle.problem(s.prompt());
            assertTrue(Family.FRESH.contains(p.family()), s.prompt());
            if (p.family() == Family.RANGE) trainRanges.add(p.variant() + " " + p.args());
        }
        for (Problem p : g.ppoPrompts()) {
            if (p.family() == Family.RANGE) trainRanges.add(p.variant() + " " + p.args());
        }
        int heldRanges = 0;
        for (Problem p : g.heldoutPrompts()) {
            assertTrue(Family.FRESH.contains(p.family()), p.prompt());
            if (p.family() == Family.RANGE) {
                heldRanges++;
                assertTrue(!trainRanges.contains(p.variant() + " " + p.args()), "held-out range trained on: " + p.prompt());
            }
        }
        assertTrue(heldRanges > 100, "held-out RANGE prompts: " + heldRanges);
        // the demonstrators' slip: imitation is as good as on the demo's families, 46% exact sampled
        assertEquals(0.46, MistakeModel.imitationAccuracy(g.heldoutPrompts(), MistakeModel.DEFAULT), 0.03);
    }

    @Test
    void familiesAreNamedByListOrByGroup() {
        assertEquals(Family.DEMO, DemoData.families("demo"));
        assertEquals(Family.FRESH, DemoData.families("fresh"));
        assertEquals(List.of(Family.PLURAL, Family.ADD), DemoData.families("plural, add"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DemoData.families("plural,dance"));
        assertTrue(e.getMessage().contains("'dance'"), e.getMessage());
        assertNull(Family.parse("dance with 3 wolves"));
        // every fresh sub-family is drawn
        Set<String> subs = new HashSet<>();
        SplittableRandom r = new SplittableRandom(1);
        for (Family f : Family.FRESH) {
            subs.add(f.sample(r, true).subfamily());
            subs.add(f.sample(r, false).subfamily());
        }
        assertEquals(6, subs.size(), subs.toString());
    }
}
