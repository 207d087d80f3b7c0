package rlhf.dpo;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.data.PromptGroup;
import rlhf.spark.ExecutorStates;
import rlhf.spark.Floats;
import rlhf.spark.IndexedData;
import rlhf.spark.Partitions;

/**
 * The reference model's log-probabilities of every answer, computed once before training so that
 * training holds one model: one Spark pass over the cached prompt groups with the reference
 * weights broadcast, the K sums per group collected to the driver (8 bytes an answer), and the
 * groups cached again with them as {@link DpoExample}s. The reference weights are freed as soon as
 * the pass ends; the result's lineage holds only the small table of sums, so a lost partition is
 * rebuilt without the reference model.
 *
 * <p>Each task forwards its groups in micro-batches of {@code microBatch} in global index order,
 * without dropout, through the very layout the loss uses ({@link DpoLoss#sequenceLogprobs}).
 */
public final class ReferenceLogprobs {

    private static final Logger LOG = LoggerFactory.getLogger(ReferenceLogprobs.class);

    private ReferenceLogprobs() {
    }

    /** The DPO examples and the broadcast table their lineage reads. */
    public record Computed(IndexedData<DpoExample> data, Broadcast<double[][]> table) {
        /** Unpersists the data and destroys the table. */
        public void release() {
            data.unpersist();
            table.destroy(false);
        }
    }

    /** One partition's sums: the groups' global indices and each group's K sums. */
    private record Part(long[] index, double[][] logp) implements Serializable {
    }

    /**
     * @param what names the data in messages and the Spark UI ("dpo train data prefs.jsonl")
     */
    public static Computed compute(JavaSparkContext sc, IndexedData<PromptGroup> groups, float[] reference,
            DpoLoss loss, int microBatch, String what) {
        String key = "ref-" + loss.stateKey();
        long t0 = System.nanoTime();
        Broadcast<Floats> weights = Floats.broadcast(sc, reference);
        List<Part> parts;
        try {
            parts = Partitions.runOnEach(sc, "reference log-probabilities of " + what, groups.shards(), weights,
                    (partition, params, shards) -> {
                        Partitions.useTaskCpus();
                        DpoLoss.State s = ExecutorStates.borrow(key, loss::newState);
                        try {
                            return logprobs(loss, s, params, shards, microBatch);
                        } finally {
                            ExecutorStates.release(key, s);
                        }
                    });
        } finally {
            weights.destroy();
        }
        if (groups.count() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(what + ": " + groups.count() + " prompt groups, more than DPO's table of "
                    + "reference log-probabilities holds (" + Integer.MAX_VALUE + ")");
        }
        double[][] table = new double[(int) groups.count()][];
        for (Part p : parts) {
            for (int j = 0; j < p.index().length; j++) {
                table[(int) p.index()[j]] = p.logp()[j];
            }
        }
        Broadcast<double[][]> shipped = sc.broadcast(table);
        IndexedData<DpoExample> data = groups.mapExamples((i, g) -> new DpoExample(g, shipped.value()[(int) i]),
                StorageLevel.MEMORY_AND_DISK(), what + " with reference log-probabilities");
        LOG.info(String.format(java.util.Locale.ROOT, "%s: the reference model's log-probabilities of %d answers in %.1f s",
                what, java.util.Arrays.stream(table).mapToLong(t -> t.length).sum(), (System.nanoTime() - t0) / 1e9));
        return new Computed(data, shipped);
    }

    /** The sums of one task's groups, micro-batch by micro-batch. */
    static Part logprobs(DpoLoss loss, DpoLoss.State s, float[] params, Iterator<IndexedData.Shard<PromptGroup>> shards,
            int microBatch) {
        List<Long> index = new ArrayList<>();
        List<double[]> sums = new ArrayList<>();
        List<PromptGroup> batch = new ArrayList<>(microBatch);
        double[] out = new double[0];
        while (shards.hasNext()) {
            IndexedData.Shard<PromptGroup> shard = shards.next();
            for (int j = 0; j < shard.size(); j++) {
                index.add(shard.index[j]);
                batch.add(shard.examples.get(j));
                if (batch.size() == microBatch) {
                    out = flush(loss, s, params, batch, out, sums);
                }
            }
        }
        if (!batch.isEmpty()) {
            flush(loss, s, params, batch, out, sums);
        }
        return new Part(index.stream().mapToLong(Long::longValue).toArray(), sums.toArray(new double[0][]));
    }

    private static double[] flush(DpoLoss loss, DpoLoss.State s, float[] params, List<PromptGroup> batch,
            double[] out, List<double[]> sums) {
        int answers = batch.stream().mapToInt(PromptGroup::answers).sum();
        double[] o = out.length >= answers ? out : new double[answers];
        loss.sequenceLogprobs(s, params, batch, o, 0);
        int off = 0;
        for (PromptGroup g : batch) {
            double[] k = new double[g.answers()];
            System.arraycopy(o, off, k, 0, k.length);
            sums.add(k);
            off += k.length;
        }
        batch.clear();
        return o;
    }
}
