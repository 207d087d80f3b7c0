package rlhf.sft;

import org.apache.spark.api.java.JavaSparkContext;

import rlhf.spark.EvalPass;
import rlhf.spark.IndexedData;
import rlhf.spark.LossStats;

/**
 * Evaluation loss on cached sequences ({@link EvalPass}: the examples of index below a limit,
 * the same fixed subset at every evaluation, without dropout or gradient). Loss per target
 * token, and perplexity = exp(loss).
 */
public final class SftEval {

    private SftEval() {
    }

    /** Mean loss per target token and the number of target tokens it averages over. */
    public record Result(double loss, long tokens) {
        public double perplexity() {
            return Math.exp(loss);
        }
    }

    /**
     * @param limit evaluate the examples of global index below this (Long.MAX_VALUE: all)
     */
    public static Result run(JavaSparkContext sc, IndexedData<Sequence> data, float[] params, SftLoss loss,
            int microBatch, long limit, String description) {
        LossStats sums = EvalPass.sums(sc, data, params, loss, microBatch, limit, description);
        if (!(sums.weight() > 0)) {
            throw new IllegalStateException(description + ": the evaluation data has no target token");
        }
        return new Result(sums.loss() / sums.weight(), (long) sums.weight());
    }
}
