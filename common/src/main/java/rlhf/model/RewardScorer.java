package rlhf.model;

import java.util.Arrays;

/**
 * Scores (prompt, response) pairs with a reward model: the scalar head at the last token of
 * {@code prompt ++ response}, with EOS appended first when the model was trained that way.
 *
 * <p>The one place that convention lives, shared by the score command, the reward job's
 * evaluation and DataFrame scoring, and PPO: a reward model records it in config.json as the
 * extra {@value #APPENDS_EOS_KEY} (true/false; the reward job writes it). A checkpoint without
 * that record (e.g. one from Hugging Face) is scored without EOS. A response whose last id is
 * already EOS (a completion that stopped on it) gets no second one.
 *
 * <p>Rows are right-padded with the EOS id; with a causal model padding cannot affect earlier
 * tokens, and with a bidirectional one it is put in its own segment so nothing attends to it.
 * The workspace is allocated once for (maxB, maxT). Not thread-safe: one instance per thread.
 */
public final class RewardScorer {

    /** config.json extra recording that the reward model was trained with EOS appended. */
    public static final String APPENDS_EOS_KEY = "rlhf_reward_appends_eos";

    private final Gpt gpt;
    private final int[] tokens;    // (maxB, maxT)
    private final int[] segments;  // (maxB, maxT)
    private final int[] lengths;   // (maxB)
    private final float[] values;  // (maxB, maxT)

    public RewardScorer(GptConfig cfg, int maxB, int maxT) {
        if (!cfg.scoreHead()) {
            throw new IllegalArgumentException("not a reward model: config has no score head (score.weight)");
        }
        this.gpt = new Gpt(cfg, maxB, maxT);
        this.tokens = new int[maxB * maxT];
        this.segments = new int[maxB * maxT];
        this.lengths = new int[maxB];
        this.values = new float[maxB * maxT];
    }

    public int maxB() {
        return gpt.maxB();
    }

    public int maxT() {
        return gpt.maxT();
    }

    /** Whether EOS is appended to {@code response}: asked for, and it does not already end with EOS. */
    public static boolean appendsEos(int[] response, boolean appendEos, int eosId) {
        return appendEos && (response.length == 0 || response[response.length - 1] != eosId);
    }

    /** Tokens scored for this pair: prompt, response, and EOS if {@link #appendsEos}. */
    public static int length(int[] prompt, int[] response, boolean appendEos, int eosId) {
        return prompt.length + response.length + (appendsEos(response, appendEos, eosId) ? 1 : 0);
    }

    /**
     * rewards[i] = score of prompts[i] ++ responses[i] (++ EOS), for i < n (n <= maxB). Each
     * sequence must have 1..maxT tokens ({@link #length}); an error names the index otherwise.
     */
    public void score(float[] params, int[][] prompts, int[][] responses, int n, boolean appendEos, int eosId,
                      float[] rewards) {
        if (n < 1 || n > gpt.maxB()) {
            throw new IllegalArgumentException("batch of " + n + " pairs, expected 1.." + gpt.maxB());
        }
        int T = 1;
        for (int i = 0; i < n; i++) {
            int len = length(prompts[i], responses[i], appendEos, eosId);
            if (len < 1 || len > gpt.maxT()) {
                throw new IllegalArgumentException("pair " + i + " has " + len + " tokens (prompt " + prompts[i].length
                        + ", response " + responses[i].length + (len > prompts[i].length + responses[i].length
                        ? ", EOS 1" : "") + "), expected 1.." + gpt.maxT());
            }
            T = Math.max(T, len);
        }
        for (int i = 0; i < n; i++) {
            int row = i * T;
            int[] p = prompts[i];
            int[] r = responses[i];
            System.arraycopy(p, 0, tokens, row, p.length);
            System.arraycopy(r, 0, tokens, row + p.length, r.length);
            int len = p.length + r.length;
            if (appendsEos(r, appendEos, eosId)) {
                tokens[row + len++] = eosId;
            }
            lengths[i] = len;
            Arrays.fill(tokens, row + len, row + T, eosId);
            Arrays.fill(segments, row, row + len, 0);
            Arrays.fill(segments, row + len, row + T, 1);
        }
        boolean causal = gpt.config().causal();
        gpt.forward(params, tokens, null, causal ? null : segments, n, T, false, 0L);
        gpt.scoreHeadForward(params, values);
        Gpt.gatherLast(values, lengths, n, T, rewards);
    }
}
