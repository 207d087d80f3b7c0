package rlhf.rules;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;

/**
 * Where a job's score of a response comes from ({@code reward.kind}): the reward model at
 * {@code model.reward}, or the {@link RuleReward} class {@code reward.rule}. Read and checked the
 * same way by every job that scores responses.
 */
public enum RewardKind {
    MODEL, RULE;

    /**
     * {@code reward.kind} of {@code c}, with the key it needs set: model.reward for a model, and for
     * a rule a class that loads now, on the driver, rather than in a task.
     */
    public static RewardKind read(JobConfig c) {
        RewardKind kind = c.getEnum("reward.kind", RewardKind.class);
        if (kind == MODEL && c.getString("model.reward").isEmpty()) {
            throw new ConfigException("config key 'model.reward' is empty but reward.kind = model: set it to the "
                    + "reward model checkpoint, or use reward.kind = rule with reward.rule = a RuleReward class");
        }
        if (kind == RULE) {
            String rule = c.getString("reward.rule");
            if (rule.isEmpty()) {
                throw new ConfigException("config key 'reward.rule' is empty but reward.kind = rule: set it to the class"
                        + " name of your rlhf.rules.RuleReward");
            }
            RuleReward.byName(rule);
        }
        return kind;
    }
}
