package rlhf.reward;

import java.io.Serializable;

/**
 * One training example of the reward model: the K tokenized answers to one prompt and the pairs
 * among them. A chosen/rejected row is K = 2 with the single pair (0 > 1); a ranking of K answers
 * gives all K·(K-1)/2 pairs ({@link Rankings#pairs}). The group is never split: all its answers
 * go through one forward pass together and its loss is the mean over its pairs.
 *
 * @param sequences (K) token ids of prompt ++ response ++ EOS for each answer, 1..T tokens each
 * @param better    (P) index of the preferred answer of each pair
 * @param worse     (P) index of the other answer
 * @param margin    (P) required reward gap of each pair, or null (all 0)
 * @param where     the source row ("file row N"), for messages
 */
public record PromptGroup(int[][] sequences, int[] better, int[] worse, double[] margin, String where)
        implements Serializable {

    public PromptGroup {
        int K = sequences.length;
        int P = better.length;
        if (K < 2 || P < 1 || worse.length != P || (margin != null && margin.length != P)) {
            throw new IllegalArgumentException(where + ": a prompt group needs K >= 2 answers and P >= 1 pairs, found K="
                    + K + " better " + P + " worse " + worse.length + " margin " + (margin == null ? "-" : margin.length));
        }
        for (int p = 0; p < P; p++) {
            if (better[p] < 0 || better[p] >= K || worse[p] < 0 || worse[p] >= K || better[p] == worse[p]) {
                throw new IllegalArgumentException(where + ": pair " + p + " (" + better[p] + " > " + worse[p]
                        + ") must name two different answers of 0.." + (K - 1));
            }
        }
        for (int[] s : sequences) {
            if (s.length == 0) {
                throw new IllegalArgumentException(where + ": an answer has no tokens");
            }
        }
    }

    /** Number of answers K. */
    public int answers() {
        return sequences.length;
    }

    /** Number of pairs P. */
    public int pairs() {
        return better.length;
    }

    /** Longest answer sequence in tokens. */
    public int maxLength() {
        int n = 0;
        for (int[] s : sequences) {
            n = Math.max(n, s.length);
        }
        return n;
    }
}
