package rlhf.reward;

import org.apache.spark.api.java.JavaSparkContext;

import rlhf.data.PromptGroup;
import rlhf.spark.EvalPass;
import rlhf.spark.IndexedData;
import rlhf.spark.LossStats;

/**
 * Evaluation of the reward model on cached prompt groups ({@link EvalPass}: the groups of index
 * below a limit, the same fixed subset every time, without dropout or gradient): loss, pairwise
 * accuracy and margin, reward mean and std.
 */
public final class RewardEval {

    private RewardEval() {
    }

    /**
     * @param loss        mean over prompt groups of the group loss
     * @param accuracy    fraction of pairs with r_better > r_worse (a tie counts as wrong)
     * @param meanMargin  mean over pairs of r_better - r_worse
     * @param rewardMean  mean reward over answers (each answer of a group once)
     * @param rewardStd   population standard deviation of those rewards
     */
    public record Result(double loss, double accuracy, double meanMargin, double rewardMean, double rewardStd,
            long groups, long pairs, long answers) {

        static Result of(LossStats s) {
            double answers = s.extra(3);
            double mean = s.extra(4) / answers;
            double var = Math.max(0, s.extra(5) / answers - mean * mean);
            return new Result(s.loss() / s.weight(), s.extra(1) / s.extra(0), s.extra(2) / s.extra(0), mean,
                    Math.sqrt(var), (long) s.weight(), (long) s.extra(0), (long) answers);
        }
    }

    /**
     * @param limit evaluate the groups of global index below this (Long.MAX_VALUE: all)
     */
    public static Result run(JavaSparkContext sc, IndexedData<PromptGroup> data, float[] params, RewardLoss loss,
            int microBatch, long limit, String description) {
        LossStats sums = EvalPass.sums(sc, data, params, loss, microBatch, limit, description);
        if (!(sums.weight() > 0)) {
            throw new IllegalStateException(description + ": no prompt group to evaluate");
        }
        return Result.of(sums);
    }
}
