package rlhf.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.optim.GradClip;

/**
 * Synchronous data-parallel training on Spark (docs/ARCHITECTURE.md).
 *
 * <pre>
 * driver: params, optimizer state        executors: cached shards of indexed examples
 *   step s: broadcast params ----------> each partition: its examples of step s's global batch,
 *                                        in index order, micro-batch by micro-batch, forward +
 *                                        backward into a reused per-JVM gradient buffer
 *           sum in partition order <---- (partition, grad sum, loss sum, weight, extra sums)
 *           / weight, clip, optimizer step, destroy the broadcast
 * </pre>
 *
 * <p>Step s of the run is batch b = s mod stepsPerEpoch of epoch e = s / stepsPerEpoch, and takes
 * the examples whose position in epoch e's {@link EpochPermutation} falls in [b*GB, (b+1)*GB),
 * with stepsPerEpoch = max(1, N / GB) (a last partial batch is dropped). That set, the per-example
 * seeds and the per-partition order depend only on (seed, step, global index); partition sums are
 * added in partition index order (not treeAggregate, whose merge order follows task completion).
 * Hence the same run twice, or with retried tasks or lost executors, gives bit-identical
 * parameters, and another partitioning gives the same up to float summation order.
 *
 * <p>Spark settings this relies on (see {@link SparkDefaults}): {@code spark.driver.maxResultSize=0}
 * (each partition returns a full gradient), {@code spark.broadcast.compress=false} (floats do not
 * compress; it only costs CPU). One serialized parameter array must stay under 2 GB (about 500M
 * floats), and so must one partition's gradient result (536M parameters).
 *
 * <p>Memory: the driver holds the parameters, one gradient sum and the partition results that
 * arrive ahead of their turn (the sum is folded on Spark's scheduler thread as soon as the lower
 * partitions are in). An executor holds the broadcast value and its torrent pieces, one gradient
 * buffer per concurrently running task, and the result bytes being sent. In local mode the
 * broadcast value is the driver's own array (no copy): losses must never write to it, and the
 * driver changes it only after the step's job has ended and its broadcast is destroyed.
 */
public final class DataParallelTrainer<E, S> {

    private static final Logger LOG = LoggerFactory.getLogger(DataParallelTrainer.class);

    private final JavaSparkContext sc;
    private final TrainerConfig config;
    private final PartitionLoss<E, S> loss;
    private final float[] params;
    private final Optimizer optimizer;
    private final float[] gradSum;
    private IndexedData<E> data;
    private int step;

    /**
     * @param params the model parameters, updated in place by {@link #step()}; the caller keeps
     *               the reference (to save checkpoints) but must not change it during a step
     */
    public DataParallelTrainer(JavaSparkContext sc, TrainerConfig config, PartitionLoss<E, S> loss,
            float[] params, Optimizer optimizer, IndexedData<E> data) {
        this.sc = sc;
        this.config = config;
        this.loss = loss;
        this.params = params;
        this.optimizer = optimizer;
        this.gradSum = new float[params.length];
        this.data = data;
        if (sc.getConf().getBoolean("spark.broadcast.compress", true)) {
            LOG.warn("spark.broadcast.compress is true: parameters are compressed on every broadcast for "
                    + "nothing; set it to false (SparkDefaults.apply)");
        }
    }

    public float[] params() {
        return params;
    }

    public TrainerConfig config() {
        return config;
    }

    /** Steps per epoch over the current data: max(1, N / globalBatch). */
    public long stepsPerEpoch() {
        return Math.max(1, data.count() / config.globalBatch());
    }

    /** The state to save with a checkpoint taken now. */
    public TrainerState state() {
        long spe = stepsPerEpoch();
        return new TrainerState(step, step / spe, (step % spe) * config.globalBatch(), config.seed());
    }

    /**
     * Continues from a saved state. The caller restores the parameters (into the array this trainer
     * holds) and the optimizer state; the data, seed and global batch must be those of the saved run.
     */
    public void resumeFrom(TrainerState s) {
        if (s.seed() != config.seed()) {
            throw new IllegalArgumentException("trainer state has seed " + s.seed() + " but this run's seed is "
                    + config.seed() + ": resuming would not continue the same run");
        }
        long spe = stepsPerEpoch();
        long epoch = s.step() / spe;
        long position = (s.step() % spe) * config.globalBatch();
        if (s.step() < 0 || s.epoch() != epoch || s.position() != position) {
            throw new IllegalArgumentException("trainer state (step " + s.step() + ", epoch " + s.epoch()
                    + ", position " + s.position() + ") does not match this data (" + data.count()
                    + " examples, global batch " + config.globalBatch() + "): expected epoch " + epoch
                    + " and position " + position);
        }
        this.step = s.step();
    }

    /** Replaces the data (PPO: the rollouts of a new iteration). */
    public void setData(IndexedData<E> data) {
        this.data = data;
    }

    /** The next step over the trainer's data, its batch derived from the step number. */
    public StepResult step() {
        long spe = stepsPerEpoch();
        return stepOn(data, step / spe, step % spe);
    }

    /**
     * One optimizer step on batch {@code batchInEpoch} of epoch {@code epoch} of {@code d}
     * (PPO: several epochs of minibatches over each rollout set). Increments the step counter.
     *
     * @throws NonFiniteLossException if the loss or the gradient is NaN or infinite (no update)
     */
    public StepResult stepOn(IndexedData<E> d, long epoch, long batchInEpoch) {
        int s = step;
        String what = config.name() + " step " + (s + 1) + "/" + config.totalSteps();
        long t0 = System.nanoTime();
        sc.setJobGroup(config.name() + "-step-" + (s + 1), what, false);
        Broadcast<float[]> bc = sc.broadcast(params);
        LossStats sums = new LossStats(loss.statNames().length);
        int[] examples = new int[1];
        long[] computeNanos = new long[1];
        long[] driverIn = new long[1];
        Map<String, Long> sentBy = new HashMap<>();
        Arrays.fill(gradSum, 0f);
        try {
            StepTask<E, S> task = new StepTask<>(loss, bc, d.count(), config, s, epoch, batchInEpoch);
            Partitions.foldInOrder(sc, what, d.shards(), task::run, (i, r) -> {
                examples[0] += r.examples;
                sums.addAll(r.stats);
                computeNanos[0] = Math.max(computeNanos[0], r.computeNanos);
                long bytes = r.grads == null ? 0 : r.grads.length;
                driverIn[0] += bytes;
                sentBy.merge(r.executor, bytes, Long::sum);
                if (r.grads != null) {
                    Gradients.addEncoded(gradSum, r.grads, what);
                }
            });
        } finally {
            bc.destroy();
            sc.clearJobGroup();
        }
        if (!(sums.weight() > 0)) {
            throw new IllegalStateException(what + ": the global batch (" + examples[0]
                    + " examples) has loss weight " + sums.weight() + "; expected > 0 (e.g. tokens with loss)");
        }
        long t1 = System.nanoTime();
        float norm = (float) GradClip.scale(gradSum, 1.0 / sums.weight());
        GradClip.clipGlobalNorm(gradSum, norm, config.maxGradNorm());
        double meanLoss = sums.loss() / sums.weight();
        if (!Double.isFinite(meanLoss) || !Float.isFinite(norm)) {
            throw new NonFiniteLossException(s, what + ": non-finite " + (Double.isFinite(meanLoss)
                    ? "gradient (norm " + norm + ")" : "loss " + meanLoss) + " over " + examples[0]
                    + " examples; the update was not applied (parameters are those after step " + s + ")");
        }
        optimizer.step(params, gradSum, s);
        step = s + 1;
        long t2 = System.nanoTime();
        ExchangeStats exchange = new ExchangeStats((t2 - t0) / 1e9, computeNanos[0] / 1e9, (t2 - t1) / 1e9,
                4L * params.length, sentBy.size(), driverIn[0], sentBy.values().stream().mapToLong(x -> x).max().orElse(0));
        return new StepResult(s, epoch, examples[0], sums, norm, loss.statNames(), exchange);
    }

    /** A copy of the current parameters as a broadcast the caller owns and destroys (PPO rollouts). */
    public Broadcast<float[]> broadcastSnapshot() {
        return sc.broadcast(params.clone());
    }

    // ---- the executor side of one step ------------------------------------------------------

    /**
     * What a partition sends back: grads is null when the partition held none of the batch; the
     * executor that ran it and its compute time, for {@link ExchangeStats}.
     */
    static final class PartitionResult implements Serializable {
        private static final long serialVersionUID = 1L;
        final int partition;
        final int examples;
        final byte[] grads;
        final LossStats stats;
        final String executor;
        final long computeNanos;

        PartitionResult(int partition, int examples, byte[] grads, LossStats stats, long computeNanos) {
            this.partition = partition;
            this.examples = examples;
            this.grads = grads;
            this.stats = stats;
            this.executor = Partitions.executorId();
            this.computeNanos = computeNanos;
        }
    }

    /** A per-JVM state with its gradient buffer. */
    private static final class Slot<S> {
        final S state;
        final float[] grads;

        Slot(S state, int n) {
            this.state = state;
            this.grads = new float[n];
        }
    }

    /** Serializable body of a step's tasks: selects the partition's examples and accumulates. */
    static final class StepTask<E, S> implements Serializable {
        private static final long serialVersionUID = 1L;
        final PartitionLoss<E, S> loss;
        final Broadcast<float[]> params;
        final long n;
        final long seed;
        final int step;
        final long epoch;
        final long lo;
        final long hi;
        final int microBatch;

        StepTask(PartitionLoss<E, S> loss, Broadcast<float[]> params, long n, TrainerConfig c, int step,
                long epoch, long batchInEpoch) {
            this.loss = loss;
            this.params = params;
            this.n = n;
            this.seed = c.seed();
            this.step = step;
            this.epoch = epoch;
            this.lo = batchInEpoch * c.globalBatch();
            this.hi = Math.min(lo + c.globalBatch(), n);
            this.microBatch = c.microBatch();
        }

        PartitionResult run(int partition, Iterator<IndexedData.Shard<E>> shards) {
            long t0 = System.nanoTime();
            Partitions.useTaskCpus();
            float[] p = params.value();
            EpochPermutation perm = new EpochPermutation(n, seed, epoch);
            List<E> batch = new ArrayList<>();
            long[] seeds = new long[0];
            LossStats stats = new LossStats(loss.statNames().length);
            int count = 0;
            String key = loss.stateKey() + ":" + p.length;
            Slot<S> slot = null;
            try {
                while (shards.hasNext()) {
                    IndexedData.Shard<E> shard = shards.next();
                    for (int j = 0; j < shard.size(); j++) {
                        long pos = perm.position(shard.index[j]);
                        if (pos < lo || pos >= hi) {
                            continue;
                        }
                        if (slot == null) {
                            slot = ExecutorStates.borrow(key, () -> new Slot<>(loss.createState(p.length), p.length));
                            Arrays.fill(slot.grads, 0f);
                            seeds = new long[microBatch];
                        }
                        seeds[batch.size()] = Seeds.forExample(seed, step, shard.index[j]);
                        batch.add(shard.examples.get(j));
                        count++;
                        if (batch.size() == microBatch) {
                            loss.accumulate(slot.state, p, batch, seeds, slot.grads, stats);
                            batch.clear();
                        }
                    }
                }
                if (!batch.isEmpty()) {
                    loss.accumulate(slot.state, p, batch, Arrays.copyOf(seeds, batch.size()), slot.grads, stats);
                }
                long computeNanos = System.nanoTime() - t0;
                return new PartitionResult(partition, count, slot == null ? null : Gradients.encode(slot.grads), stats,
                        computeNanos);
            } finally {
                if (slot != null) {
                    ExecutorStates.release(key, slot);
                }
            }
        }
    }
}
