package rlhf.reward;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

import rlhf.spark.ExecutorStates;
import rlhf.spark.IndexedData;
import rlhf.spark.LossStats;
import rlhf.spark.Partitions;

/**
 * Evaluation of the reward model on cached prompt groups, without dropout or gradient: each
 * partition runs its groups of global index below a limit (the same fixed subset every time),
 * the sums come back in partition order.
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
    public static Result run(JavaSparkContext sc, IndexedData<PromptGroup> data, Broadcast<float[]> params,
            RewardLoss loss, int microBatch, long limit, String description) {
        String key = "eval-" + loss.stateKey();
        List<LossStats> parts = Partitions.runOnEach(sc, description, data.shards(), params,
                (partition, p, shards) -> {
                    RewardLoss.State s = ExecutorStates.borrow(key, loss::newState);
                    try {
                        return evaluate(loss, s, p, shards, microBatch, limit);
                    } finally {
                        ExecutorStates.release(key, s);
                    }
                });
        LossStats total = new LossStats(RewardLoss.STATS.length);
        for (LossStats st : parts) {
            total.addLoss(st.loss(), st.weight());
            for (int i = 0; i < RewardLoss.STATS.length; i++) {
                total.add(i, st.extra(i));
            }
        }
        if (!(total.weight() > 0)) {
            throw new IllegalStateException(description + ": no prompt group to evaluate");
        }
        return Result.of(total);
    }

    static LossStats evaluate(RewardLoss loss, RewardLoss.State s, float[] params,
            Iterator<IndexedData.Shard<PromptGroup>> shards, int microBatch, long limit) {
        LossStats stats = new LossStats(RewardLoss.STATS.length);
        List<PromptGroup> batch = new ArrayList<>(microBatch);
        while (shards.hasNext()) {
            IndexedData.Shard<PromptGroup> shard = shards.next();
            for (int j = 0; j < shard.size(); j++) {
                if (shard.index[j] >= limit) {
                    continue;
                }
                batch.add(shard.examples.get(j));
                if (batch.size() == microBatch) {
                    loss.evaluate(s, params, batch, stats);
                    batch.clear();
                }
            }
        }
        if (!batch.isEmpty()) {
            loss.evaluate(s, params, batch, stats);
        }
        return stats;
    }
}
