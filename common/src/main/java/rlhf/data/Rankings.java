package rlhf.data;

import java.util.Arrays;
import java.util.List;

/**
 * K ranked answers of one prompt -> the K·(K-1)/2 preference pairs, and the checks a row must
 * pass before it is trained on.
 *
 * <p>A ranking lists answer indices best first: {@code ranking = [2, 0, 1]} means answer 2 is
 * best, then 0, then 1, giving the pairs (2 > 0), (2 > 1), (0 > 1). A {@code chosen/rejected}
 * row is the case K = 2 with ranking [0, 1].
 *
 * <p>Each way a row can be wrong is a distinct {@link Reason}, so that a job can count the
 * dropped rows per reason, or fail on the first one, as its policy says. The message says what
 * was expected and what was found; the caller adds the file and row.
 */
public final class Rankings {

    private Rankings() {
    }

    /** Why a preference row cannot be used. Checked in this order; the first failing one is reported. */
    public enum Reason {
        /** Fewer than two responses: no pair can be formed. */
        TOO_FEW_RESPONSES,
        /** The ranking is missing or does not list as many entries as there are responses. */
        LENGTH_MISMATCH,
        /** A ranking entry is not an answer index 0..K-1. */
        NOT_A_PERMUTATION,
        /** The ranking lists the same answer twice. */
        DUPLICATE_RANK,
        /** A response is null, empty or only whitespace. */
        EMPTY_RESPONSE,
        /** Two responses have the same text: a pair would have chosen equal to rejected. */
        IDENTICAL_RESPONSES
    }

    /** A failed check: its reason (for counting) and a message (for the user). */
    public record Problem(Reason reason, String message) {
    }

    /** Number of pairs of a ranking of K answers: K·(K-1)/2. */
    public static int pairCount(int K) {
        return K * (K - 1) / 2;
    }

    /**
     * Writes the K·(K-1)/2 pairs of a valid ranking into {@code better/worse[off ..]}, in the order
     * (rank 0 > rank 1), (rank 0 > rank 2), ..., (rank K-2 > rank K-1). Indices are the answers'.
     */
    public static void pairs(int[] ranking, int[] better, int[] worse, int off) {
        int p = off;
        for (int i = 0; i < ranking.length; i++) {
            for (int j = i + 1; j < ranking.length; j++) {
                better[p] = ranking[i];
                worse[p] = ranking[j];
                p++;
            }
        }
    }

    /** Checks a ranked row; returns null when it is usable, otherwise the first problem found. */
    public static Problem check(List<String> responses, int[] ranking) {
        int K = responses == null ? 0 : responses.size();
        if (K < 2) {
            return new Problem(Reason.TOO_FEW_RESPONSES,
                    "expected at least 2 responses to rank, found " + K);
        }
        if (ranking == null || ranking.length != K) {
            return new Problem(Reason.LENGTH_MISMATCH, "expected a ranking of the " + K + " responses, found "
                    + (ranking == null ? "none" : ranking.length + " entries " + Arrays.toString(ranking)));
        }
        boolean[] seen = new boolean[K];
        for (int i = 0; i < K; i++) {
            int a = ranking[i];
            if (a < 0 || a >= K) {
                return new Problem(Reason.NOT_A_PERMUTATION, "ranking " + Arrays.toString(ranking)
                        + " has entry " + a + " at position " + i + "; expected answer indices 0.." + (K - 1));
            }
            if (seen[a]) {
                return new Problem(Reason.DUPLICATE_RANK, "ranking " + Arrays.toString(ranking)
                        + " lists answer " + a + " twice; expected each of 0.." + (K - 1) + " exactly once");
            }
            seen[a] = true;
        }
        for (int i = 0; i < K; i++) {
            String s = responses.get(i);
            if (s == null || s.isBlank()) {
                return new Problem(Reason.EMPTY_RESPONSE, "response " + i + " is "
                        + (s == null ? "missing (null)" : "empty") + "; expected non-empty text");
            }
        }
        for (int i = 0; i < K; i++) {
            for (int j = i + 1; j < K; j++) {
                if (responses.get(i).equals(responses.get(j))) {
                    return new Problem(Reason.IDENTICAL_RESPONSES, "responses " + i + " and " + j
                            + " have the same text, so a pair would prefer an answer to itself; expected different texts");
                }
            }
        }
        return null;
    }

    /** Checks a {@code chosen/rejected} row (the ranking [0, 1] of [chosen, rejected]); null when usable. */
    public static Problem checkPair(String chosen, String rejected) {
        for (String[] side : new String[][] {{"chosen", chosen}, {"rejected", rejected}}) {
            if (side[1] == null || side[1].isBlank()) {
                return new Problem(Reason.EMPTY_RESPONSE, side[0] + " is "
                        + (side[1] == null ? "missing (null)" : "empty") + "; expected non-empty text");
            }
        }
        if (chosen.equals(rejected)) {
            return new Problem(Reason.IDENTICAL_RESPONSES,
                    "chosen and rejected have the same text; expected different texts");
        }
        return null;
    }
}
