package rlhf.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

/**
 * The executor side of a supervised training step, as the {@link Exchange}'s source: selects the
 * partition's examples of the step's global batch, in index order (from the batch's positions, so
 * the cost does not grow with the dataset), and accumulates their gradient
 * micro-batch by micro-batch into a reused per-JVM buffer, which the exchange encodes and gives
 * back.
 */
final class StepTask<E, S> implements Exchange.SourceTask<IndexedData.Shard<E>> {
    private static final long serialVersionUID = 1L;

    private final PartitionLoss<E, S> loss;
    private final long n;
    private final long seed;
    private final int step;
    private final long epoch;
    private final long lo;
    private final long hi;
    private final int microBatch;

    StepTask(PartitionLoss<E, S> loss, long n, TrainerConfig c, int step, long epoch, long batchInEpoch) {
        this.loss = loss;
        this.n = n;
        this.seed = c.seed();
        this.step = step;
        this.epoch = epoch;
        this.lo = batchInEpoch * c.globalBatch();
        this.hi = Math.min(lo + c.globalBatch(), n);
        this.microBatch = c.microBatch();
    }

    @Override
    public Exchange.Partial run(int partition, Iterator<IndexedData.Shard<E>> shards, float[][] params) {
        long t0 = System.nanoTime();
        Partitions.useTaskCpus();
        float[] p = params[0];
        EpochPermutation perm = new EpochPermutation(n, seed, epoch);
        List<E> batch = new ArrayList<>();
        long[] seeds = new long[0];
        LossStats stats = new LossStats(loss.statNames().length);
        String key = loss.stateKey() + ":" + p.length;
        Slot<S> slot = null;
        int count = 0;
        boolean done = false;
        try {
            for (IndexedData.Picked<E> picked : IndexedData.atPositions(perm, lo, hi, IndexedData.list(shards))) {
                long i = picked.index();
                if (slot == null) {
                    slot = ExecutorStates.borrow(key, () -> new Slot<>(loss.createState(p.length), p.length));
                    Arrays.fill(slot.grads, 0f);
                    seeds = new long[microBatch];
                }
                seeds[batch.size()] = Seeds.forExample(seed, step, i);
                batch.add(picked.example());
                count++;
                if (batch.size() == microBatch) {
                    loss.accumulate(slot.state, p, batch, seeds, slot.grads, stats);
                    batch.clear();
                }
            }
            if (!batch.isEmpty()) {
                loss.accumulate(slot.state, p, batch, Arrays.copyOf(seeds, batch.size()), slot.grads, stats);
            }
            done = true;
            Slot<S> held = slot;
            return new Exchange.Partial(new float[][] {held == null ? null : held.grads}, stats, count,
                    System.nanoTime() - t0, () -> {
                        if (held != null) {
                            ExecutorStates.release(key, held);
                        }
                    });
        } finally {
            if (!done && slot != null) {
                ExecutorStates.release(key, slot);
            }
        }
    }

    /** A per-JVM loss state with its gradient buffer. */
    private static final class Slot<S> {
        final S state;
        final float[] grads;

        Slot(S state, int n) {
            this.state = state;
            this.grads = new float[n];
        }
    }
}
