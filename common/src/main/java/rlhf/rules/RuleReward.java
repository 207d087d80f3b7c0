package rlhf.rules;

import rlhf.config.ConfigException;

/**
 * A reward computed by a rule instead of a learned model: PPO on verifiable tasks can use one in
 * place of the reward model. Implementations must be pure, thread-safe and total on the response:
 * any string a model can emit (empty, garbage, very long) gets a finite score and never an
 * exception.
 *
 * <p>A job names its rule by class ({@code reward.rule = com.example.MyRule}): a public class with
 * a public no-argument constructor, on the application's class path (inside the submitted jar or
 * added with {@code --jars}). Each executor makes its own instance with {@link #byName}, so a
 * rule need not be serializable and never travels with a task.
 */
@FunctionalInterface
public interface RuleReward {

    /** The reward of {@code response} as the answer to {@code prompt}; higher is better. */
    double score(String prompt, String response);

    /**
     * The reward of {@code response} given also the prompt row's reference answer (its
     * {@code reference} column, {@code data.columns.reference}; null when the row has none). A
     * rule that checks against a reference overrides this; by default the reference is not used.
     */
    default double score(String prompt, String response, String reference) {
        return score(prompt, response);
    }

    /**
     * A new instance of the rule class {@code className}, loaded through the thread's context class
     * loader (on an executor: the one holding the application's jars).
     *
     * @throws ConfigException naming the class when it is missing, not a rule, or cannot be made
     */
    static RuleReward byName(String className) {
        Class<?> c;
        try {
            ClassLoader loader = Thread.currentThread().getContextClassLoader();
            c = Class.forName(className, true, loader != null ? loader : RuleReward.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new ConfigException("rule reward class '" + className + "' is not on the class path (put it in the "
                    + "submitted jar or add its jar with --jars): " + e);
        }
        if (!RuleReward.class.isAssignableFrom(c)) {
            throw new ConfigException("rule reward class '" + className + "' does not implement " + RuleReward.class.getName());
        }
        try {
            return (RuleReward) c.getConstructor().newInstance();
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new ConfigException("rule reward class '" + className + "' needs a public no-argument constructor: " + e);
        }
    }
}
