package rlhf.demo;

import rlhf.rules.RuleReward;

/**
 * 1 for an exactly right answer to a demo prompt, 0 for anything else: the {@link Oracle}'s
 * accuracy as a rule, e.g. the gold rule of best-of-n ({@code eval.gold_rule=rlhf.demo.ExactAnswer}),
 * whose report then gives the accuracy of one sample and of the best of k by the reward model.
 */
public final class ExactAnswer implements RuleReward {

    private final Oracle oracle = new Oracle();

    @Override
    public double score(String prompt, String response) {
        return oracle.isCorrect(prompt, response) ? 1 : 0;
    }
}
