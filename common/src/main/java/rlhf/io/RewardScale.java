package rlhf.io;

import java.io.Serializable;

import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;

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

    /**
     * Rewrites a score-head model's parameters in place so that its value at every position reads
     * on this scale: {@code value' = (value - mean) / std}, exactly up to float rounding. The score
     * head has no bias, so the shift goes into the final layer norm's bias, which feeds nothing but
     * the score head in such a model: {@code score.weight /= std} and
     * {@code ln_f.bias -= mean * w / |w|^2} (w: the old score.weight, (1, C)), since
     * {@code (w / std) . (h - mean * w / |w|^2) = (w . h - mean) / std}. A zero score head (no
     * direction to shift along) is only scaled.
     */
    public void applyToScoreHead(GptConfig cfg, float[] params) {
        if (!cfg.scoreHead()) {
            throw new IllegalArgumentException("applyToScoreHead needs a model with a score head");
        }
        ParamLayout layout = ParamLayout.of(cfg);
        int w = layout.offset("score.weight");
        int bias = layout.offset("ln_f.bias");
        int C = cfg.nEmbd();
        double norm2 = 0;
        for (int c = 0; c < C; c++) {
            norm2 += (double) params[w + c] * params[w + c];
        }
        for (int c = 0; c < C; c++) {
            if (norm2 > 0) {
                params[bias + c] = (float) (params[bias + c] - mean * params[w + c] / norm2);
            }
            params[w + c] = (float) (params[w + c] / std);
        }
    }

    public boolean isRaw() {
        return mean == 0 && std == 1;
    }
}
