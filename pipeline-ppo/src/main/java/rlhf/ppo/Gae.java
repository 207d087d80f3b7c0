package rlhf.ppo;

/**
 * Generalized advantage estimation (Schulman et al. 2016) over the response tokens of each rollout.
 *
 * <pre>
 * rewards (n), values (n) of one response, V_n = 0 after the last token (the episode ends there):
 *   δ_t = r_t + γ V_{t+1} - V_t
 *   A_t = δ_t + γ λ A_{t+1},   A_n = 0
 *   R_t = A_t + V_t                      (the critic's target)
 * </pre>
 *
 * γ = λ = 1 gives A_t = reward-to-go - V_t and R_t = reward-to-go; λ = 0 gives the one-step TD
 * error. Returns use the raw advantages; whitening the advantages is the caller's next step
 * ({@link Whitening}), as in TRL.
 *
 * <p>A batch is any layout of per-token arrays where sequence b occupies
 * {@code [offsets[b], offsets[b] + lengths[b])} (padded (B,T) rows, or packed); the same offsets
 * index rewards, values, advantages and returns. Positions outside the sequences are not touched.
 */
public final class Gae {

    private Gae() {
    }

    /** One sequence: writes advantages and returns at [off, off+n). Output may alias rewards. */
    public static void compute(double[] rewards, double[] values, int off, int n, double gamma, double lambda,
                               double[] advantages, double[] returns) {
        double nextValue = 0;
        double nextAdv = 0;
        for (int t = off + n - 1; t >= off; t--) {
            double v = values[t];
            double delta = rewards[t] + gamma * nextValue - v;
            nextAdv = delta + gamma * lambda * nextAdv;
            advantages[t] = nextAdv;
            returns[t] = nextAdv + v;
            nextValue = v;
        }
    }

    /** B sequences at {@code offsets[b]} of {@code lengths[b]} tokens each. */
    public static void compute(double[] rewards, double[] values, int[] offsets, int[] lengths, int B,
                               double gamma, double lambda, double[] advantages, double[] returns) {
        if (!(gamma >= 0 && gamma <= 1)) {
            throw new IllegalArgumentException("gamma must be in [0, 1], found " + gamma);
        }
        if (!(lambda >= 0 && lambda <= 1)) {
            throw new IllegalArgumentException("lam (GAE lambda) must be in [0, 1], found " + lambda);
        }
        for (int b = 0; b < B; b++) {
            compute(rewards, values, offsets[b], lengths[b], gamma, lambda, advantages, returns);
        }
    }
}
