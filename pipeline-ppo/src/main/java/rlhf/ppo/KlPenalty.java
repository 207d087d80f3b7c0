package rlhf.ppo;

/**
 * Per-token KL between the policy and the frozen reference, and the per-token rewards of a
 * rollout (Ziegler et al. 2019; InstructGPT).
 *
 * <pre>
 * for the sampled token y_t, with logp = log π(y_t), logp_ref = log π_ref(y_t):
 *   k1 = logp - logp_ref                          unbiased, can be negative per token
 *   k3 = (ρ - 1) - log ρ,  ρ = exp(logp_ref - logp)  unbiased, never negative (Schulman's k3)
 * rewards (n):  r_t = -β·kl_t  for every response token,
 *               r_{n-1} += clip(score, -c, c)  on the last one
 * </pre>
 *
 * Both estimators are unbiased for KL(π ‖ π_ref) when y_t is sampled from π; k1 is what TRL's
 * classic PPO trainer uses, k3 has lower variance and no negative tokens.
 */
public final class KlPenalty {

    private KlPenalty() {
    }

    /** Which per-token estimator of KL(π ‖ π_ref) to use. */
    public enum Estimator { K1, K3 }

    public static double k1(double logp, double logpRef) {
        return logp - logpRef;
    }

    /** (ρ - 1) - log ρ = expm1(d) - d with d = logp_ref - logp; clamped at 0 against rounding. */
    public static double k3(double logp, double logpRef) {
        double d = logpRef - logp;
        return Math.max(0, Math.expm1(d) - d);
    }

    public static double kl(Estimator estimator, double logp, double logpRef) {
        return estimator == Estimator.K1 ? k1(logp, logpRef) : k3(logp, logpRef);
    }

    /**
     * One response of n ≥ 1 tokens at [off, off+n): writes per-token rewards (and, when
     * {@code kl} is not null, the per-token KL) and returns the sequence's KL, summed over its
     * tokens. {@code scoreClip} = +∞ leaves the score unclipped.
     */
    public static double rewards(double[] logp, double[] logpRef, int off, int n, double score, double beta,
                                 double scoreClip, Estimator estimator, double[] rewards, double[] kl) {
        if (n < 1) {
            throw new IllegalArgumentException("a response needs at least 1 token to carry its score, found " + n);
        }
        double sum = 0;
        for (int t = off; t < off + n; t++) {
            double k = kl(estimator, logp[t], logpRef[t]);
            sum += k;
            rewards[t] = -beta * k;
            if (kl != null) {
                kl[t] = k;
            }
        }
        rewards[off + n - 1] += Math.max(-scoreClip, Math.min(scoreClip, score));
        return sum;
    }

    /**
     * β·k3 as a loss term on the policy being trained (GRPO's KL to the reference, instead of a
     * penalty in the reward), per response token: returns scale·β·Σ k3_t and adds its gradient
     * scale·β·(1 - ρ_t), ρ_t = exp(logp_ref_t - logp_t), to dlogp. Under samples of π its
     * expectation is the gradient of β·KL(π ‖ π_ref) (k1's expected gradient is 0: it cannot be
     * the loss).
     */
    public static double lossTerm(double[] logp, double[] logpRef, int[] offsets, int[] lengths, int B, double beta,
                                  double scale, double[] dlogp) {
        double sum = 0;
        double g = scale * beta;
        for (int b = 0; b < B; b++) {
            for (int t = offsets[b]; t < offsets[b] + lengths[b]; t++) {
                sum += k3(logp[t], logpRef[t]);
                dlogp[t] += g * -Math.expm1(logpRef[t] - logp[t]);
            }
        }
        return g * sum;
    }

    /**
     * B responses at {@code offsets[b]} of {@code lengths[b]} tokens with scores (B); returns the
     * sum over responses of each response's summed KL (divide by B for the mean the
     * {@link KlController} takes). {@code seqKl} (B), when not null, receives each response's KL.
     */
    public static double rewards(double[] logp, double[] logpRef, int[] offsets, int[] lengths, int B,
                                 double[] scores, double beta, double scoreClip, Estimator estimator,
                                 double[] rewards, double[] kl, double[] seqKl) {
        if (!(beta >= 0)) {
            throw new IllegalArgumentException("KL coefficient beta must be >= 0, found " + beta);
        }
        if (!(scoreClip > 0)) {
            throw new IllegalArgumentException("score clip must be > 0 (or +Infinity for none), found " + scoreClip);
        }
        double total = 0;
        for (int b = 0; b < B; b++) {
            double s = rewards(logp, logpRef, offsets[b], lengths[b], scores[b], beta, scoreClip, estimator,
                    rewards, kl);
            if (seqKl != null) {
                seqKl[b] = s;
            }
            total += s;
        }
        return total;
    }
}
