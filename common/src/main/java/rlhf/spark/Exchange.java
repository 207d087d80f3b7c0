package rlhf.spark;

import java.io.Serializable;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;

import rlhf.optim.ElementwiseOptimizer;
import rlhf.optim.OptimizerState;

/**
 * The engine's gradient exchange: how the partitions' gradient sums of one optimizer step become
 * the update of one or more models (SFT, reward model: one; PPO: policy and critic), from one or
 * more sources of data (PPO: the rollouts, and the demonstrations of PPO-ptx for the policy).
 *
 * <p>The exchange owns the models' parameters from the first step on. The caller's arrays (one
 * per model) are where they start and where the caller reads them: {@link #params} hands a
 * step's tasks the current parameters, {@link #pull} brings them into the caller's array (a no-op
 * for the driver's exchange, which updates that array in place; a gather of the executors' shards
 * for the sharded one, which leaves it behind until then).
 *
 * <p>A step has two halves so that the caller can check losses and norms in between:
 * {@link #reduce} runs every source's task on every partition and, per model, sums each source's
 * gradients in partition order from zero, then adds the sources in order, each scaled by the
 * factor {@link Combine} derives from the sources' summed statistics (SFT: 1 / tokens), and
 * returns each model's L2 norm; {@link #update} multiplies each model's gradient by its clip
 * factor and runs its optimizer. {@link DriverExchange} does this on the driver;
 * {@link ShardedExchange} on the executors, shard by shard. Both give the same bits: sums in
 * partition order from zero, the same scaling, norms summed per
 * {@link rlhf.optim.GradClip#NORM_BLOCK}, elementwise optimizers.
 */
public interface Exchange extends AutoCloseable {

    /**
     * Executors from which {@code AUTO} takes the sharded exchange. Measured on one 2-core host
     * (bench/RESULTS.md), the sharded exchange costs more than the driver's at 1, 2 and 4
     * executors (shuffle files, replicas, four jobs a step); the cost model fed by those figures
     * (bench/cost_model.py, the driver's exchange over direct connections) has it ahead for GPT-2
     * 124M from 15 executors on 10 Gb/s links and 26 on 25 Gb/s, where the driver's inbound link
     * carries one gradient per partition.
     */
    int AUTO_SHARDED_EXECUTORS = 16;

    /**
     * The exchange for {@code mode}, updating the models whose parameters start in the caller's
     * arrays {@code params[m]} with {@code optimizers[m]}, their state starting at zero. The caller
     * may change the arrays until the first {@link #params} call (a resumed run), not after. {@code AUTO}: the driver's in local mode;
     * on a cluster the sharded one from {@link #AUTO_SHARDED_EXECUTORS} executors, or when the
     * driver's could not carry the models (a gradient message of 2 GB or more, or a driver heap
     * under twice the 16 bytes per parameter it would hold), else the driver's.
     *
     * @param shards shards per model of the sharded exchange; 0 chooses
     */
    static Exchange create(JavaSparkContext sc, TrainerConfig.ExchangeMode mode, int shards,
            List<ElementwiseOptimizer> optimizers, float[][] params) {
        int executors = sc.isLocal() ? 1 : Math.max(1, sc.sc().getExecutorMemoryStatus().size() - 1);
        long total = 0;
        int largest = 0;
        for (float[] p : params) {
            total += p.length;
            largest = Math.max(largest, p.length);
        }
        boolean driverCannot = 4L * largest >= Integer.MAX_VALUE || 32L * total > Runtime.getRuntime().maxMemory();
        boolean sharded = switch (mode) {
            case DRIVER -> false;
            case SHARDED -> true;
            case AUTO -> !sc.isLocal() && (executors >= AUTO_SHARDED_EXECUTORS || driverCannot);
        };
        if (!sharded) {
            return new DriverExchange(sc, optimizers, params);
        }
        // one replica of the optimizer shards on another executor, where there is another
        return new ShardedExchange(sc, optimizers, params, shards,
                executors >= 2 ? StorageLevel.MEMORY_AND_DISK_2() : StorageLevel.MEMORY_AND_DISK());
    }

    /** The exchange's name in logs ("driver", "sharded (4 shards)"). */
    String kind();

    /**
     * Model m's current parameters for a step's tasks (the driver's: the caller's array, offered or broadcast
     * on a cluster; the sharded one: its executors' shards). The caller releases them when the step is over.
     */
    Params params(int model);

    /** Brings model m's current parameters into the caller's array (checkpoints, evaluation, rollouts). */
    void pull(int model);

    /**
     * Runs every source on every partition of its data and reduces the gradients.
     *
     * @param params the step's {@link #params} of each model, null for a model this step does not
     *               train; not released until {@link #update} or {@link #discard}
     */
    Reduced reduce(String what, List<Source<?>> sources, List<Params> params, Combine combine);

    /**
     * Multiplies model m's reduced gradient by {@code clip[m]} and runs its optimizer at trainer
     * step {@code step}; models whose clip factor is NaN are left as they are.
     */
    Update update(String what, float[] clip, int step);

    /** Drops the reduced gradient without an update (a non-finite or skipped step). */
    void discard();

    /** Model m's optimizer state now (gathered to the driver from the executors: checkpoints). */
    OptimizerState state(int model);

    /** Replaces model m's optimizer state (a resumed run), before the next step. */
    void restore(int model, OptimizerState state);

    /** Pulls every model, then releases what the exchange keeps on the executors. */
    @Override
    void close();

    // ---- what a step is made of ------------------------------------------------------------

    /** A source of gradients: its data and what a task does with a partition of it. */
    record Source<T>(JavaRDD<T> data, SourceTask<T> task) {
    }

    /** A partition's gradient sums for every model, from its rows and the models' parameters. */
    @FunctionalInterface
    interface SourceTask<T> extends Serializable {
        /**
         * @param params each model's parameters, null for a model the step does not train
         */
        Partial run(int partition, Iterator<T> rows, float[][] params);
    }

    /**
     * What a task computed: a gradient sum per model (null: none, e.g. no examples of the batch or
     * a model it does not touch) in buffers it holds until {@link #release()}, its loss
     * statistics, and its compute time.
     */
    final class Partial {
        final float[][] grads;
        final LossStats stats;
        final int examples;
        final long computeNanos;
        private Runnable release;

        /** @param release gives the gradient buffers back (to {@link ExecutorStates}); called once */
        public Partial(float[][] grads, LossStats stats, int examples, long computeNanos, Runnable release) {
            this.grads = grads;
            this.stats = stats;
            this.examples = examples;
            this.computeNanos = computeNanos;
            this.release = release;
        }

        /** Model m's gradient sum, or null. */
        public float[] grad(int model) {
            return grads[model];
        }

        public LossStats stats() {
            return stats;
        }

        /** Gives the buffers back; the arrays are no longer the caller's. Once. */
        public synchronized void release() {
            if (release != null) {
                release.run();
                release = null;
            }
        }
    }

    /**
     * factor[m][s]: the weight of source s's summed gradient in model m's update, from every
     * source's statistics summed over the step's partitions (SFT: 1 / tokens; 0: not used).
     */
    @FunctionalInterface
    interface Combine extends Serializable {
        double[][] factors(LossStats[] sourceTotals);
    }

    /**
     * A step's reduced gradients, as far as the driver sees them.
     *
     * @param totals        each source's statistics summed in partition order
     * @param examples      each source's examples
     * @param norms         each model's L2 norm after the combination (NaN for a model not trained
     *                      or when a factor is not finite)
     * @param computeNanos  the slowest partition's compute
     * @param driverInBytes gradient payload that reached the driver
     * @param executorOut   payload bytes each executor sent (gradients), by executor id
     * @param executorIn    payload bytes each executor received besides the parameters, by executor id
     */
    record Reduced(LossStats[] totals, int[] examples, double[] norms, long computeNanos, long driverInBytes,
            Map<String, Long> executorOut, Map<String, Long> executorIn) {
    }

    /**
     * What an update cost.
     *
     * @param optimizerSeconds the optimizer's time (on executors: the slowest shard's)
     * @param driverInBytes    parameter payload that reached the driver (none, in both exchanges)
     * @param executorOut      payload bytes each executor sent (replicas of the new state and parameter shards), by executor id
     * @param paramsFromDriver the step's parameters came from the driver (not gathered from the executors)
     */
    record Update(double optimizerSeconds, long driverInBytes, Map<String, Long> executorOut, boolean paramsFromDriver) {
    }
}
