package rlhf.data;

/**
 * K >= 2 responses to one prompt ranked by a labeller (InstructGPT): {@code ranking} lists
 * indices into {@code responses}, best first ({@code [2,0,1]}: answer 2 is best). The input may
 * number answers 0..K-1 or 1..K; both are stored 0-based. The reward model trains on all K(K-1)/2 pairs of a prompt together.
 */
public record Ranking(String prompt, String[] responses, int[] ranking, String source, long row)
        implements Preference {
    public String where() {
        return source + " row " + row;
    }

    /** Number of responses K. */
    public int size() {
        return responses.length;
    }
}
