package rlhf.sft;

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
 * Evaluation loss on cached sequences: each partition runs its examples of index below a limit
 * (the same fixed subset at every evaluation) without dropout or gradient; the sums come back in
 * partition order. Loss per target token, and perplexity = exp(loss).
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
    public static Result run(JavaSparkContext sc, IndexedData<Sequence> data, Broadcast<float[]> params, SftLoss loss,
            int microBatch, long limit, String description) {
        String key = "eval-" + loss.stateKey();
        List<LossStats> parts = Partitions.runOnEach(sc, description, data.shards(), params,
                (partition, p, shards) -> {
                    SftLoss.State s = ExecutorStates.borrow(key, loss::newState);
                    try {
                        return evaluate(loss, s, p, shards, microBatch, limit);
                    } finally {
                        ExecutorStates.release(key, s);
                    }
                });
        double sum = 0;
        double n = 0;
        for (LossStats st : parts) {
            sum += st.loss();
            n += st.weight();
        }
        if (!(n > 0)) {
            throw new IllegalStateException(description + ": the evaluation data has no target token");
        }
        return new Result(sum / n, (long) n);
    }

    static LossStats evaluate(SftLoss loss, SftLoss.State s, float[] params, Iterator<IndexedData.Shard<Sequence>> shards,
            int microBatch, long limit) {
        LossStats stats = new LossStats(SftLoss.STATS.length);
        List<Sequence> batch = new ArrayList<>(microBatch);
        while (shards.hasNext()) {
            IndexedData.Shard<Sequence> shard = shards.next();
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
