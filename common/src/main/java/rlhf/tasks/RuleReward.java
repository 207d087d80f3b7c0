package rlhf.tasks;

/**
 * A reward computed by a rule instead of a learned model: PPO on verifiable tasks can use one in
 * place of (or beside) the reward model. Implementations must be pure, thread-safe and total on
 * the response: any string a model can emit (empty, garbage, very long) gets a finite score and
 * never an exception. Serializable, since PPO ships the rule to the executors that score rollouts.
 */
@FunctionalInterface
public interface RuleReward extends java.io.Serializable {

    /** The reward of {@code response} as the answer to {@code prompt}; higher is better. */
    double score(String prompt, String response);
}
