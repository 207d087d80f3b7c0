package rlhf.io;

import java.io.Serializable;

/**
 * The scale a reward model's raw scores are read on: {@code (raw - mean) / std}, with the mean and
 * std of its scores over its training answers, which the reward job records in config.json
 * ({@value #MEAN_KEY}, {@value #STD_KEY}). Normalised this way, a score of 1 means "one standard
 * deviation above the reward model's typical answer" whatever the model's own offset and spread,
 * so PPO's KL coefficient and a best-of-n report mean the same for every reward model. A
 * checkpoint without the record (or a rule reward) keeps its raw scale.
 */
public record RewardScale(double mean, double std) implements Serializable {

    /** config.json extra: mean score of the reward model over its training answers. */
    public static final String MEAN_KEY = "rlhf_reward_mean";
    /** config.json extra: standard deviation of those scores. */
    public static final String STD_KEY = "rlhf_reward_std";

    /** Raw scores as they are. */
    public static final RewardScale RAW = new RewardScale(0, 1);

    /**
     * The recorded scale of {@code reward} when {@code normalize} and both extras are recorded with
     * std > 0; {@link #RAW} otherwise (also for a null config: a rule reward).
     */
    public static RewardScale of(ModelConfigJson reward, boolean normalize) {
        if (reward == null || !normalize || !reward.hasExtra(MEAN_KEY) || !reward.hasExtra(STD_KEY)
                || !(reward.extraDouble(STD_KEY) > 0)) {
            return RAW;
        }
        return new RewardScale(reward.extraDouble(MEAN_KEY), reward.extraDouble(STD_KEY));
    }

    public double apply(double raw) {
        return (raw - mean) / std;
    }

    public boolean isRaw() {
        return mean == 0 && std == 1;
    }
}
