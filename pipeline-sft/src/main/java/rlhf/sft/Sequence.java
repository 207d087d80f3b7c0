package rlhf.sft;

import java.io.Serializable;

/**
 * One row of a training batch: n input tokens and, for each, the next token the model should
 * predict there (or -1 where the loss does not look, e.g. inside the prompt).
 *
 * <p>An example of L tokens (prompt, response, end-of-text) becomes n = L - 1 inputs
 * {@code tokens[i] = ids[i]} with targets {@code ids[i + 1]}. A packed sequence concatenates
 * several examples; {@code positions} restart at 0 in each and {@code segments} number them, so
 * that attention stays inside an example. Both are null for a single example (0..n-1, one segment).
 *
 * @param examples how many examples the sequence holds (1 unless packed)
 */
public record Sequence(int[] tokens, int[] targets, int[] positions, int[] segments, int examples)
        implements Serializable {

    public Sequence {
        if (tokens.length == 0 || targets.length != tokens.length
                || (positions != null && positions.length != tokens.length)
                || (segments != null && segments.length != tokens.length) || (positions == null) != (segments == null)) {
            throw new IllegalArgumentException("sequence arrays differ in length or are empty: tokens "
                    + tokens.length + ", targets " + targets.length + ", positions "
                    + (positions == null ? "-" : positions.length) + ", segments "
                    + (segments == null ? "-" : segments.length));
        }
    }

    /** A single (unpacked) example. */
    public static Sequence of(int[] tokens, int[] targets) {
        return new Sequence(tokens, targets, null, null, 1);
    }

    public int length() {
        return tokens.length;
    }

    /** Position of token i: restarts per packed example. */
    public int position(int i) {
        return positions == null ? i : positions[i];
    }

    /** Segment (packed example number) of token i. */
    public int segment(int i) {
        return segments == null ? 0 : segments[i];
    }

    /** Positions with a target, i.e. tokens the loss counts. */
    public int lossTokens() {
        int c = 0;
        for (int t : targets) {
            if (t >= 0) {
                c++;
            }
        }
        return c;
    }
}
