package rlhf.data;

import java.io.Serializable;
import java.util.List;

/**
 * One preference example of the reward model and DPO: the K tokenized answers to one prompt and
 * the pairs among them. A chosen/rejected row is K = 2 with the single pair (0 > 1); a ranking of K answers
 * gives all K·(K-1)/2 pairs ({@link Rankings#pairs}). The group is never split: all its answers
 * go through one forward pass together and its loss is the mean over its pairs.
 *
 * @param sequences (K) token ids of prompt ++ response ++ EOS for each answer, 1..T tokens each
 * @param promptLength the prompt's tokens at the start of every answer (DPO scores the tokens after
 *                  them); every answer is longer
 * @param better    (P) index of the preferred answer of each pair
 * @param worse     (P) index of the other answer
 * @param margin    (P) required reward gap of each pair, or null (all 0)
 * @param where     the source row ("file row N"), for messages
 * @param offPrompt whether the last answer is another prompt's best answer after this prompt, and
 *                  the last pair ranks this group's best answer above it (train.off_prompt_pairs):
 *                  a term of the loss of its own, kept out of the accuracy and reward statistics
 */
public record PromptGroup(int[][] sequences, int promptLength, int[] better, int[] worse, double[] margin,
        String where, boolean offPrompt) implements Serializable {

    /** A group of the dataset's own answers only, without a prompt (every token is an answer token). */
    public PromptGroup(int[][] sequences, int[] better, int[] worse, double[] margin, String where) {
        this(sequences, 0, better, worse, margin, where, false);
    }

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
        if (offPrompt && (P < 2 || worse[P - 1] != K - 1)) {
            throw new IllegalArgumentException(where + ": an off-prompt answer needs a pair of the group's own and a"
                    + " last pair ranking an answer above it");
        }
        for (int[] s : sequences) {
            if (s.length <= promptLength) {
                throw new IllegalArgumentException(where + ": an answer of " + s.length
                        + " tokens has none after the prompt's " + promptLength);
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

    /** The answers of the dataset's row: all but an off-prompt one. */
    public int ownAnswers() {
        return offPrompt ? sequences.length - 1 : sequences.length;
    }

    /** The pairs of the dataset's row: all but the off-prompt one. */
    public int ownPairs() {
        return offPrompt ? better.length - 1 : better.length;
    }

    /** The answer ranked first: the better answer of the first pair (pairs are listed best first). */
    public int best() {
        return better[0];
    }

    /** Longest answer sequence in tokens. */
    public int maxLength() {
        int n = 0;
        for (int[] s : sequences) {
            n = Math.max(n, s.length);
        }
        return n;
    }

    /** The answers of a micro-batch of groups (its rows) and its longest answer in tokens. */
    public record BatchShape(int rows, int longest) {
    }

    /**
     * The shape of a micro-batch, checked against what a loss was sized for: 1..microBatch groups,
     * at most maxK answers each, none longer than maxLength tokens.
     */
    public static BatchShape shape(List<PromptGroup> batch, int microBatch, int maxK, int maxLength) {
        if (batch.isEmpty() || batch.size() > microBatch) {
            throw new IllegalArgumentException("micro-batch of " + batch.size() + " prompt groups, expected 1.." + microBatch);
        }
        int rows = 0;
        int longest = 1;
        for (PromptGroup g : batch) {
            if (g.answers() > maxK) {
                throw new IllegalArgumentException(g.where() + ": " + g.answers() + " answers, more than the " + maxK
                        + " this loss was sized for");
            }
            rows += g.answers();
            longest = Math.max(longest, g.maxLength());
        }
        if (longest > maxLength) {
            throw new IllegalArgumentException("an answer of " + longest + " tokens exceeds the context of " + maxLength);
        }
        return new BatchShape(rows, longest);
    }
}
