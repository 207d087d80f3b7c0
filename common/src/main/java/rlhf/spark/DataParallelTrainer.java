package rlhf.spark;

import java.util.List;

import org.apache.spark.api.java.JavaSparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.optim.ElementwiseOptimizer;
import rlhf.optim.GradClip;
import rlhf.optim.OptimizerState;

/**
 * Synchronous data-parallel training on Spark (docs/ARCHITECTURE.md).
 *
 * <pre>
 * driver: params                         executors: cached shards of indexed examples
 *   step s: exchange.params -----------> each partition: its examples of step s's global batch,
 *                                        in index order, micro-batch by micro-batch, forward +
 *                                        backward into a reused per-JVM gradient buffer
 *           the {@link Exchange}: sum in partition order, / weight, clip, optimizer step
 *             driver:  gradients to the driver, which sums and updates ({@link DriverExchange})
 *             sharded: reduce-scatter through the shuffle, optimizer shards on the executors,
 *                      which keep the parameter shards and gather them ({@link ShardedExchange})
 * </pre>
 *
 * <p>Step s of the run is batch b = s mod stepsPerEpoch of epoch e = s / stepsPerEpoch, and takes
 * the examples whose position in epoch e's {@link EpochPermutation} falls in [b*GB, (b+1)*GB),
 * with stepsPerEpoch = max(1, N / GB) (a last partial batch is dropped); each partition finds its
 * share by inverting the permutation over those GB positions, never by scanning its examples. That set, the per-example
 * seeds and the per-partition order depend only on (seed, step, global index); partition sums are
 * added in partition index order (not treeAggregate, whose merge order follows task completion).
 * Hence the same run twice, or with retried tasks or lost executors, gives bit-identical
 * parameters, through either exchange and with any number of shards; another partitioning gives
 * the same up to float summation order.
 *
 * <p>Which exchange ({@link TrainerConfig#exchange()}): {@code auto} takes the driver's in local
 * mode and on small clusters, the sharded one on large clusters or for models the driver could not
 * carry ({@link Exchange#create}).
 *
 * <p>Spark settings this relies on (see {@link SparkDefaults}): {@code spark.driver.maxResultSize=0}
 * (the driver exchange returns a full gradient per partition), {@code spark.broadcast.compress=false}
 * (floats do not compress; it only costs CPU). With the driver exchange one serialized parameter
 * array and one partition's gradient result must stay under 2 GB (about 500M floats); the sharded
 * exchange sends nothing larger than a shard.
 *
 * <p>{@link #params()} is the way to read the parameters: with the sharded exchange the array
 * passed to the constructor lags behind the executors' shards until it is pulled (there, and on
 * {@link #close()}).
 *
 * <p>In local mode the tasks read the driver's own array ({@link Params#local}, no copy): losses
 * must never write to it, and the driver changes it only after the step's jobs have ended.
 */
public final class DataParallelTrainer<E, S> {

    private static final Logger LOG = LoggerFactory.getLogger(DataParallelTrainer.class);

    private final JavaSparkContext sc;
    private final TrainerConfig config;
    private final PartitionLoss<E, S> loss;
    private final float[] params;
    private final Exchange exchange;
    private final IndexedData<E> data;
    private int step;

    /**
     * @param params    the model parameters, brought up to date by {@link #params()} and
     *                  {@link #close()}; the caller may change them before the first step (a
     *                  resumed run), not after
     * @param optimizer the update, with its learning-rate schedule; its state starts at zero
     *                  ({@link #restoreOptimizer} for a resumed run)
     */
    public DataParallelTrainer(JavaSparkContext sc, TrainerConfig config, PartitionLoss<E, S> loss,
            float[] params, ElementwiseOptimizer optimizer, IndexedData<E> data) {
        this.sc = sc;
        this.config = config;
        this.loss = loss;
        this.params = params;
        this.data = data;
        this.exchange = Exchange.create(sc, config.exchange(), config.exchangeShards(), List.of(optimizer),
                new float[][] {params});
        LOG.info("{}: {} exchange, {} parameters", config.name(), exchange.kind(), params.length);
        if (sc.getConf().getBoolean("spark.broadcast.compress", true)) {
            LOG.warn("spark.broadcast.compress is true: parameters are compressed on every broadcast for "
                    + "nothing; set it to false (SparkDefaults.apply)");
        }
    }

    /** The parameters after the steps so far (the sharded exchange gathers them first). */
    public float[] params() {
        exchange.pull(0);
        return params;
    }

    public TrainerConfig config() {
        return config;
    }

    /** The exchange this trainer runs ("driver", "sharded (4 shards)"). */
    public String exchangeKind() {
        return exchange.kind();
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
     * The optimizer's state after the steps so far, for a checkpoint: on the driver, or gathered
     * from the executors' shards (a job; the arrays are the caller's).
     */
    public OptimizerState optimizerState() {
        return exchange.state(0);
    }

    /** Continues from a checkpoint's optimizer state (before the next step). */
    public void restoreOptimizer(OptimizerState state) {
        exchange.restore(0, state);
    }

    /** Brings the parameters into the array and releases what the executors keep (the sharded exchange). */
    public void close() {
        exchange.close();
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

    /**
     * The next step over the trainer's data, its batch derived from the step number.
     *
     * @throws NonFiniteLossException if the loss or the gradient is NaN or infinite (no update)
     */
    public StepResult step() {
        long spe = stepsPerEpoch();
        return stepOn(data, step / spe, step % spe);
    }

    /**
     * One optimizer step on batch {@code batchInEpoch} of epoch {@code epoch} of {@code d}.
     * Increments the step counter.
     *
     * @throws NonFiniteLossException if the loss or the gradient is NaN or infinite (no update)
     */
    private StepResult stepOn(IndexedData<E> d, long epoch, long batchInEpoch) {
        int s = step;
        String what = config.name() + " step " + (s + 1) + "/" + config.totalSteps();
        long t0 = System.nanoTime();
        sc.setJobGroup(config.name() + "-step-" + (s + 1), what, false);
        Params p = exchange.params(0);
        Exchange.Reduced r;
        Exchange.Update u;
        float norm;
        try {
            r = exchange.reduce(what, List.of(new Exchange.Source<>(d.shards(),
                    new StepTask<>(loss, d.count(), config, s, epoch, batchInEpoch))), List.of(p),
                    totals -> new double[][] {{1.0 / totals[0].weight()}});
            LossStats sums = r.totals()[0];
            if (!(sums.weight() > 0)) {
                exchange.discard();
                throw new IllegalStateException(what + ": the global batch (" + r.examples()[0]
                        + " examples) has loss weight " + sums.weight() + "; expected > 0 (e.g. tokens with loss)");
            }
            norm = (float) r.norms()[0];
            double meanLoss = sums.loss() / sums.weight();
            if (!Double.isFinite(meanLoss) || !Float.isFinite(norm)) {
                exchange.discard();
                throw new NonFiniteLossException(s, what + ": non-finite " + (Double.isFinite(meanLoss)
                        ? "gradient (norm " + norm + ")" : "loss " + meanLoss) + " over " + r.examples()[0]
                        + " examples; the update was not applied (parameters are those after step " + s + ")");
            }
            u = exchange.update(what, new float[] {GradClip.clipFactor(norm, config.maxGradNorm())}, s);
        } finally {
            p.release();
            sc.clearJobGroup();
        }
        step = s + 1;
        double seconds = (System.nanoTime() - t0) / 1e9;
        ExchangeStats stats = ExchangeStats.of(seconds, r, u, 4L * params.length);
        return new StepResult(s, epoch, r.examples()[0], r.totals()[0], norm, loss.statNames(), stats);
    }
}
