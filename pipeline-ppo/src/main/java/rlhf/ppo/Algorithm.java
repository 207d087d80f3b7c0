package rlhf.ppo;

/**
 * The policy-gradient methods of this engine. They share everything — rollouts, reward sources,
 * the clipped ratio objective, the exchange, checkpoints — but where an advantage comes from:
 *
 * <pre>
 * PPO   a critic's values and GAE over per-token rewards -β·KL + score      (conf/ppo.properties)
 * GRPO  the group of G samples of a prompt: (R_i - mean_g R) / (std_g R + ε),
 *       std optional (Dr. GRPO), no critic                                  (conf/grpo.properties)
 * RLOO  the group's leave-one-out mean: R_i - (Σ_j R_j - R_i) / (G - 1),
 *       no critic                                                           (conf/rloo.properties)
 * </pre>
 *
 * Each has its own job name, defaults file and key prefix ({@code ppo.*}, {@code grpo.*},
 * {@code rloo.*}); the keys of a method without a critic are the PPO keys less the critic's.
 */
public enum Algorithm {
    PPO("ppo", true),
    GRPO("grpo", false),
    RLOO("rloo", false);

    private final String job;
    private final boolean critic;

    Algorithm(String job, boolean critic) {
        this.job = job;
        this.critic = critic;
    }

    /** The command, defaults file (conf/JOB.properties), key prefix and pipeline stage: "ppo", "grpo", "rloo". */
    public String job() {
        return job;
    }

    /** The method's key {@code name}, e.g. "grpo.iterations". */
    public String key(String name) {
        return job + "." + name;
    }

    /** Whether the method trains a critic (PPO), or takes its baseline from the group of samples of a prompt. */
    public boolean hasCritic() {
        return critic;
    }
}
