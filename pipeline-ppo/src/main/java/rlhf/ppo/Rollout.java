package rlhf.ppo;

import java.io.Serializable;

/**
 * One sampled response, as generated on an executor.
 *
 * @param id           the rollout's number in its iteration, 0..R-1: its sampling key and the
 *                     index minibatches are drawn by
 * @param promptIndex  global index of its prompt in the cached prompt set
 * @param prompt       the prompt text (template applied)
 * @param promptIds    (P) prompt tokens
 * @param response     (n >= 1) sampled tokens, EOS included when it was sampled
 * @param endedWithEos whether the response stopped on EOS (else it hit the length limit)
 * @param logp         (n) log-probability of each response token under the sampling policy, at
 *                     the sampling temperature
 * @param reference    the prompt row's reference answer, for rules that compare with it; null without one
 */
public record Rollout(long id, long promptIndex, String prompt, int[] promptIds, int[] response, boolean endedWithEos,
        float[] logp, String reference) implements Serializable {

    /** Input tokens of a forward over prompt + response (the last token is never an input). */
    public int inputLength() {
        return promptIds.length + response.length - 1;
    }

    /**
     * A rollout after scoring (all per-token arrays (n), response token j at index j).
     *
     * @param refLogp    log π_ref of each response token at the sampling temperature
     * @param values     the critic's value of the state each token was sampled in; null without a critic
     * @param rawScore   the score of reward.kind, the reward model's term unscaled
     * @param score      the score added at the last token: normalised, EOS-penalised (unclipped)
     * @param kl         KL estimate summed over the response tokens
     * @param rewardSum  sum of the per-token rewards (score - β·KL, the score clipped; the score alone
     *                   when the KL is a loss term): without a critic, the sequence reward R
     * @param advantages GAE advantages (not whitened); without a critic, the group advantage of R on every token
     * @param returns    advantages + values: the critic's targets; without a critic, R on every token
     * @param gold       eval.gold_rule's score of the response (NaN without one): logged, never trained on
     */
    public record Scored(Rollout r, float[] refLogp, float[] values, double rawScore, double score, double kl,
            double rewardSum, double[] advantages, double[] returns, double gold) implements Serializable {
    }
}
