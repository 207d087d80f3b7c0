package rlhf.spark;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * One evaluation over cached examples: each partition runs its examples of global index below a
 * limit (the same fixed subset at every evaluation, whatever the partitioning) micro-batch by
 * micro-batch, without dropout or gradient; the partitions' sums are added in partition order, so
 * the result does not depend on which task finishes first.
 */
public final class EvalPass {

    private EvalPass() {
    }

    /**
     * The loss sums of {@code loss} over the examples of {@code data} with global index below
     * {@code limit} (Long.MAX_VALUE: all), with a snapshot of {@code params}.
     *
     * @param description shown in the Spark UI ("sft evaluation after step 100")
     */
    public static <E, S> LossStats sums(JavaSparkContext sc, IndexedData<E> data, float[] params, EvalLoss<E, S> loss,
            int microBatch, long limit, String description) {
        String key = "eval-" + loss.stateKey();
        // a copy: the evaluation must see these parameters even if the caller goes on training
        Broadcast<Floats> snapshot = Floats.broadcast(sc, params.clone());
        try {
            List<LossStats> parts = Partitions.runOnEach(sc, description, data.shards(), snapshot,
                    (partition, p, shards) -> {
                        Partitions.useTaskCpus(); // an evaluation before any step may be the JVM's first task
                        S s = ExecutorStates.borrow(key, loss::newState);
                        try {
                            return evaluate(loss, s, p, shards, microBatch, limit);
                        } finally {
                            ExecutorStates.release(key, s);
                        }
                    });
            LossStats total = new LossStats(loss.statNames().length);
            for (LossStats part : parts) {
                total.addAll(part);
            }
            return total;
        } finally {
            snapshot.destroy();
        }
    }

    static <E, S> LossStats evaluate(EvalLoss<E, S> loss, S s, float[] params, Iterator<IndexedData.Shard<E>> shards,
            int microBatch, long limit) {
        LossStats stats = new LossStats(loss.statNames().length);
        List<E> batch = new ArrayList<>(microBatch);
        while (shards.hasNext()) {
            IndexedData.Shard<E> shard = shards.next();
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
