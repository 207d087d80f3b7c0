package rlhf.dpo;

import org.apache.spark.api.java.JavaSparkContext;

import rlhf.spark.EvalPass;
import rlhf.spark.IndexedData;
import rlhf.spark.LossStats;

/**
 * Evaluation of the DPO policy on cached prompt groups ({@link EvalPass}: the groups of index below
 * a limit, the same fixed subset every time, without dropout or gradient): the loss and the
 * implicit reward β·log π/π_ref of the preferred and the other answer of every pair.
 */
public final class DpoEval {

    private DpoEval() {
    }

    /**
     * @param loss           mean over prompt groups of the group loss
     * @param accuracy       fraction of pairs whose preferred answer has the larger implicit reward
     * @param meanMargin     mean over pairs of the implicit reward gap βΔ
     * @param chosenReward   mean over pairs of the preferred answer's implicit reward
     * @param rejectedReward mean over pairs of the other answer's
     */
    public record Result(double loss, double accuracy, double meanMargin, double chosenReward, double rejectedReward,
            long groups, long pairs) {

        static Result of(LossStats s) {
            double pairs = s.extra(0);
            return new Result(s.loss() / s.weight(), s.extra(1) / pairs, s.extra(2) / pairs, s.extra(3) / pairs,
                    s.extra(4) / pairs, (long) s.weight(), (long) pairs);
        }
    }

    /**
     * @param limit evaluate the groups of global index below this (Long.MAX_VALUE: all)
     */
    public static Result run(JavaSparkContext sc, IndexedData<DpoExample> data, float[] params, DpoLoss loss,
            int microBatch, long limit, String description) {
        LossStats sums = EvalPass.sums(sc, data, params, loss, microBatch, limit, description);
        if (!(sums.weight() > 0)) {
            throw new IllegalStateException(description + ": no prompt group to evaluate");
        }
        return Result.of(sums);
    }
}
