package rlhf.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

import rlhf.rules.RuleReward;

class OracleTest {

    private final Oracle oracle = new Oracle();

    private void check(String prompt, String response, double expected) {
        assertEquals(expected, oracle.score(prompt, response), 0.0,
                () -> "score of \"" + response + "\" for \"" + prompt + "\"");
    }

    @Test
    void addIsExactWithCarryAndGradesSloppyAndWrongAnswers() {
        check("add 7 and 8", "15", 1.0);
        check("what is 7 plus 8", " 15 \n", 1.0);
        check("7 + 8 =", "15", 1.0);
        check("the sum of 0 and 0", "0", 1.0);
        check("add 7 and 8", "5", 0.1);           // carry dropped
        check("add 7 and 8", "answer: 15", 0.5);
        check("add 7 and 8", "The answer is 15.", 0.5);
        check("add 7 and 8", "15.", 0.5);
        check("add 7 and 8", "answer: 5", 0.0);
        check("add 7 and 8", "015", 0.0);
        check("add 7 and 8", "15 15", 0.0);
        Problem p = oracle.problem("add 7 and 8");
        assertEquals(Family.ADD, p.family());
        assertEquals("add.carry", p.subfamily());
        assertEquals("add.nocarry", oracle.problem("add 2 and 3").subfamily());
    }

    @Test
    void exactAnswerCountsOnlyTheExactlyRightOnes() {
        ExactAnswer exact = new ExactAnswer();
        assertEquals(1.0, exact.score("add 7 and 8", " 15 \n"), 0);
        assertEquals(0.0, exact.score("add 7 and 8", "answer: 15"), 0); // the oracle's 0.5
        assertEquals(0.0, exact.score("add 7 and 8", "5"), 0);          // the oracle's 0.1
        assertTrue(RuleReward.byName(ExactAnswer.class.getName()) instanceof ExactAnswer);
    }

    @Test
    void reverseCountUpperOnHandCases() {
        check("reverse the word horse", "esroh", 1.0);
        check("spell cat backwards", "tac", 1.0);
        check("write horse in reverse", "hesro", 0.1);     // only the tail reversed
        check("reverse the word horse", "ESROH", 0.0);
        check("count the letters in banana", "6", 1.0);
        check("how many letters are in banana", "3", 0.1); // distinct letters counted
        check("what is the length of cat", "3", 1.0);
        assertTrue(oracle.problem("count the letters in banana").hard());
        assertFalse(oracle.problem("count the letters in cat").hard());
        check("uppercase dog", "DOG", 1.0);
        check("write horse in capitals", "Horse", 0.1);
        check("horse in upper case", "the answer is HORSE", 0.5);
        check("uppercase dog", "dog!", 0.0);
    }

    @Test
    void sortAndMaxFollowTheAskedDirection() {
        check("sort 5 2 9", "2 5 9", 1.0);
        check("sort the numbers 5 2 9", "2 9 5", 0.1);
        check("put 5 2 9 in order", "2 5 9", 1.0);
        check("sort 5 2 9 in descending order", "9 5 2", 1.0);
        check("sort the numbers 5 2 9 from largest to smallest", "2 5 9", 0.1);
        check("put 5 2 9 in reverse order", "9 5 2", 1.0);
        check("sort 5 2 9", "2  5 9", 0.0);
        check("sort 5 2 9", "2,5,9", 0.0);
        check("max of 3 8 1", "8", 1.0);
        check("largest of 3 8 1", "3", 0.1);
        check("min of 3 8 1", "1", 1.0);
        check("what is the smallest of 3 8 1", "8", 0.1);
        assertEquals("sort.desc", oracle.problem("sort 5 2 9 in descending order").subfamily());
        assertEquals("max.min", oracle.problem("smallest of 3 8 1").subfamily());
    }

    @Test
    void garbageEmptyNullAndVeryLongResponsesScoreZeroWithoutThrowing() {
        String[] prompts = {"add 7 and 8", "reverse the word cat", "sort 3 1 2", "count the letters in dog",
            "max of 1 2 3", "uppercase dog", "min of 4 5 6", "sort 1 2 3 in descending order"};
        String longText = "15 ".repeat(100_000);
        SplittableRandom r = new SplittableRandom(7);
        for (String prompt : prompts) {
            for (String bad : new String[] {"", " ", "\n\n", ".", "answer:", "the answer is", "\u0000\uffff",
                    "ééé", "-1", "99999999999999999999", longText, "answer: " + longText}) {
                double s = oracle.score(prompt, bad);
                assertTrue(s == 0.0 || s == 0.1, () -> "garbage scored " + s + " for " + prompt);
            }
            assertEquals(0.0, oracle.score(prompt, null));
            for (int i = 0; i < 200; i++) { // random printable junk of random length
                StringBuilder b = new StringBuilder();
                int n = r.nextInt(40);
                for (int j = 0; j < n; j++) b.append((char) (32 + r.nextInt(95)));
                double s = oracle.score(prompt, b.toString());
                assertTrue(s >= 0 && s <= 1);
            }
        }
        assertEquals(0.0, oracle.score("add 7 and 8", "15" + " ".repeat(300) + "x"));
    }

    @Test
    void unknownPromptIsRejectedWithTheprompt() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> oracle.score("tell me a joke", "15"));
        assertTrue(e.getMessage().contains("tell me a joke"), e.getMessage());
        assertTrue(oracle.parse("add 70 and 8").isEmpty(), "operands outside the family's range");
        assertTrue(oracle.parse("sort the numbers 1 2 x").isEmpty());
        assertTrue(oracle.parse(null).isEmpty());
    }

    @Test
    void isARuleReward() {
        RuleReward reward = new Oracle();
        assertEquals(1.0, reward.score("uppercase cat", "CAT"));
        assertTrue(oracle.isCorrect("uppercase cat", "CAT"));
        assertFalse(oracle.isCorrect("uppercase cat", "answer: CAT"));
    }
}
