package rlhf.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class RankingsTest {

    @Test
    void fourRankedAnswersGiveSixPairsBestFirst() {
        int[] ranking = {2, 0, 3, 1};
        assertEquals(6, Rankings.pairCount(4));
        int[] better = new int[7];
        int[] worse = new int[7];
        Rankings.pairs(ranking, better, worse, 1);
        assertArrayEquals(new int[] {0, 2, 2, 2, 0, 0, 3}, better);
        assertArrayEquals(new int[] {0, 0, 3, 1, 3, 1, 1}, worse);
    }

    @Test
    void validRowsPass() {
        assertNull(Rankings.check(List.of("a", "b", "c"), new int[] {2, 0, 1}));
        assertNull(Rankings.checkPair("yes", "no"));
    }

    @Test
    void eachProblemHasItsOwnReasonAndSaysWhatWasExpected() {
        List<String> three = List.of("a", "b", "c");
        expect(Rankings.Reason.TOO_FEW_RESPONSES, "at least 2", Rankings.check(List.of("a"), new int[] {0}));
        expect(Rankings.Reason.TOO_FEW_RESPONSES, "found 0", Rankings.check(null, new int[] {0}));
        expect(Rankings.Reason.LENGTH_MISMATCH, "ranking of the 3 responses, found 2 entries [0, 1]",
                Rankings.check(three, new int[] {0, 1}));
        expect(Rankings.Reason.LENGTH_MISMATCH, "found none", Rankings.check(three, null));
        expect(Rankings.Reason.NOT_A_PERMUTATION, "entry 3 at position 1; expected answer indices 0..2",
                Rankings.check(three, new int[] {0, 3, 1}));
        expect(Rankings.Reason.NOT_A_PERMUTATION, "entry -1", Rankings.check(three, new int[] {-1, 0, 1}));
        expect(Rankings.Reason.DUPLICATE_RANK, "lists answer 2 twice",
                Rankings.check(three, new int[] {2, 0, 2}));
        expect(Rankings.Reason.EMPTY_RESPONSE, "response 1 is empty",
                Rankings.check(List.of("a", " ", "c"), new int[] {0, 1, 2}));
        expect(Rankings.Reason.EMPTY_RESPONSE, "response 2 is missing (null)",
                Rankings.check(Arrays.asList("a", "b", null), new int[] {0, 1, 2}));
        expect(Rankings.Reason.IDENTICAL_RESPONSES, "responses 0 and 2 have the same text",
                Rankings.check(List.of("x", "y", "x"), new int[] {1, 0, 2}));
        expect(Rankings.Reason.IDENTICAL_RESPONSES, "chosen and rejected have the same text",
                Rankings.checkPair("same", "same"));
        expect(Rankings.Reason.EMPTY_RESPONSE, "rejected is empty", Rankings.checkPair("yes", ""));
        expect(Rankings.Reason.EMPTY_RESPONSE, "chosen is missing (null)", Rankings.checkPair(null, "no"));
    }

    private static void expect(Rankings.Reason reason, String inMessage, Rankings.Problem found) {
        assertEquals(reason, found == null ? null : found.reason(), String.valueOf(found));
        assertTrue(found.message().contains(inMessage), found.message());
    }
}
