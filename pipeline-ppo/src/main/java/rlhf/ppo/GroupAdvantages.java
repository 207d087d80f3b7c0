package rlhf.ppo;

/**
 * Advantages of the critic-free methods, from the sequence rewards of a group of G ≥ 2 samples
 * of one prompt, the same for every token of a response:
 *
 * <pre>
 * GRPO (Shao et al. 2024)         A_i = (R_i - mean(R)) / (std(R) + ε)     std unbiased (n - 1), ε = 1e-4
 * Dr. GRPO (Liu et al. 2025)      A_i =  R_i - mean(R)                     (scaleByStd false)
 * RLOO (Ahmadian et al. 2024)     A_i =  R_i - (Σ_j R_j - R_i) / (G - 1)  = G/(G-1) · (R_i - mean(R))
 * </pre>
 *
 * R_i is the sequence's reward: its score, less β times its summed KL when the KL is in the reward.
 * The std and ε are those of TRL's GRPOTrainer; a group whose rewards are all equal gets 0.
 */
public final class GroupAdvantages {

    /** Added to the group's std before dividing, as TRL's GRPOTrainer. */
    public static final double STD_EPS = 1e-4;

    private GroupAdvantages() {
    }

    /**
     * Writes the advantages (n) of the groups of G consecutive rewards (n, a multiple of G).
     *
     * @param method GRPO or RLOO
     * @param scaleByStd GRPO only: divide by the group's std + ε
     */
    public static void compute(Algorithm method, double[] rewards, int n, int G, boolean scaleByStd, double[] out) {
        if (G < 2) {
            throw new IllegalArgumentException("a group baseline needs at least 2 samples per prompt, found " + G);
        }
        if (n % G != 0) {
            throw new IllegalArgumentException(n + " rewards are not whole groups of " + G);
        }
        for (int g = 0; g < n; g += G) {
            double sum = 0;
            for (int i = g; i < g + G; i++) {
                sum += rewards[i];
            }
            double mean = sum / G;
            switch (method) {
                case GRPO -> {
                    double inv = 1;
                    if (scaleByStd) {
                        double ss = 0;
                        for (int i = g; i < g + G; i++) {
                            ss += (rewards[i] - mean) * (rewards[i] - mean);
                        }
                        inv = 1 / (Math.sqrt(ss / (G - 1)) + STD_EPS);
                    }
                    for (int i = g; i < g + G; i++) {
                        out[i] = (rewards[i] - mean) * inv;
                    }
                }
                case RLOO -> {
                    for (int i = g; i < g + G; i++) {
                        out[i] = rewards[i] - (sum - rewards[i]) / (G - 1);
                    }
                }
                default -> throw new IllegalArgumentException(method + " has no group baseline");
            }
        }
    }
}
