package rlhf.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;

import rlhf.tensor.Parallel;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;
import scala.runtime.BoxedUnit;

/**
 * Whole-partition passes: the in-order fold of large per-partition results that every training
 * step uses ({@link #foldInOrder}), and passes with broadcast parameters besides training steps
 * (PPO: generate and score rollouts, gather whitening statistics). Per-JVM model state goes
 * through {@link ExecutorStates#borrow} / {@link ExecutorStates#release}.
 */
public final class Partitions {

    private Partitions() {
    }

    /** Computes one partition's result (a gradient sum, say) from its rows. */
    @FunctionalInterface
    public interface PartitionTask<T, R> extends Serializable {
        R run(int partition, Iterator<T> rows);
    }

    /** Receives partition results in partition index order, on the driver. */
    @FunctionalInterface
    public interface Fold<R> {
        void accept(int partition, R result);
    }

    /**
     * Runs {@code task} on every partition and hands each result to {@code fold} in partition
     * index order, as soon as the lower partitions are folded: the sum order is fixed (the same
     * run, retried tasks and lost executors give bit-identical sums) while only results that
     * arrive early are buffered, so the driver never holds every partition's gradient at once
     * (unlike collect, or treeAggregate whose merge order follows task completion).
     *
     * @param description the Spark UI's description of the job ("sft step 3/100")
     */
    public static <T, R> void foldInOrder(JavaSparkContext sc, String description, JavaRDD<T> rdd,
            PartitionTask<T, R> task, Fold<R> fold) {
        Object[] pending = new Object[rdd.getNumPartitions()];
        int[] next = {0};
        sc.setJobDescription(description);
        try {
            ClassTag<Box> tag = ClassTag$.MODULE$.apply(Box.class);
            sc.sc().runJob(rdd.rdd(),
                    (scala.Function2<TaskContext, scala.collection.Iterator<T>, Box> & Serializable) (ctx, it) ->
                            new Box<>(task.run(ctx.partitionId(), CollectionConverters.asJava(it))),
                    (scala.Function2<Object, Box, BoxedUnit> & Serializable) (i, r) -> {
                        synchronized (pending) {
                            pending[(Integer) i] = r;
                            while (next[0] < pending.length && pending[next[0]] != null) {
                                @SuppressWarnings("unchecked")
                                R value = ((Box<R>) pending[next[0]]).value;
                                pending[next[0]] = null;
                                fold.accept(next[0]++, value);
                            }
                        }
                        return BoxedUnit.UNIT;
                    },
                    tag);
        } finally {
            sc.setJobDescription(null);
        }
        if (next[0] != pending.length) {
            throw new IllegalStateException(description + ": only " + next[0] + " of " + pending.length
                    + " partition results arrived");
        }
    }

    /**
     * On a real executor, sizes the kernel pool to the task's cores ({@code spark.task.cpus}), as
     * {@link Parallel} expects, unless {@code rlhf.threads} is set. Not in local mode, where the
     * pool is the driver's too. Every task that runs kernels calls it first.
     */
    public static void useTaskCpus() {
        TaskContext ctx = TaskContext.get();
        SparkEnv env = SparkEnv.get();
        if (ctx != null && env != null && !"driver".equals(env.executorId())
                && System.getProperty("rlhf.threads") == null) {
            Parallel.setThreads(ctx.cpus());
        }
    }

    /** The id of the executor this code runs on ("driver" in local mode and on the driver). */
    public static String executorId() {
        SparkEnv env = SparkEnv.get();
        return env == null ? "driver" : env.executorId();
    }

    /** Computes a small result from one partition's rows and the broadcast parameters. */
    @FunctionalInterface
    public interface Task<T, R> extends Serializable {
        R run(int partition, float[] params, Iterator<T> rows);
    }

    /** Maps one partition's rows to new rows, with the broadcast parameters. */
    @FunctionalInterface
    public interface Mapper<T, U> extends Serializable {
        Iterator<U> map(int partition, float[] params, Iterator<T> rows);
    }

    /**
     * Runs {@code task} on every partition and returns the results in partition index order (so
     * that a fold over them on the driver is deterministic). Results must be small: all of them are
     * held on the driver at once.
     *
     * @param description shown in the Spark UI ("ppo iteration 3: reward statistics")
     */
    public static <T, R> List<R> runOnEach(JavaSparkContext sc, String description, JavaRDD<T> rdd,
            Broadcast<float[]> params, Task<T, R> task) {
        sc.setJobDescription(description);
        try {
            // collect() concatenates partition outputs in partition order, whatever the finish order.
            return new ArrayList<>(rdd.mapPartitionsWithIndex(
                    (i, rows) -> List.of(new Box<>(task.run(i, params.value(), rows))).iterator(), true)
                    .collect().stream().map(b -> b.value).toList());
        } finally {
            sc.setJobDescription(null);
        }
    }

    /** Null-tolerant single-element holder (List.of refuses null results). */
    private static final class Box<R> implements Serializable {
        private static final long serialVersionUID = 1L;
        final R value;

        Box(R value) {
            this.value = value;
        }
    }

    /**
     * Maps every partition to new rows, persists them at {@code level} and materialises them (one
     * job, described by {@code description}); the returned RDD is cached on the executors.
     *
     * <p>{@code params} must stay alive (not destroyed) until the result is unpersisted: a lost
     * executor's partitions are recomputed from it. Use a snapshot broadcast, not the trainer's
     * per-step one.
     */
    public static <T, U> JavaRDD<U> mapCached(JavaSparkContext sc, String description, JavaRDD<T> rdd,
            Broadcast<float[]> params, Mapper<T, U> mapper, StorageLevel level) {
        JavaRDD<U> out = rdd.mapPartitionsWithIndex((i, rows) -> mapper.map(i, params.value(), rows), true);
        out.setName(description).persist(level);
        sc.setJobDescription(description);
        try {
            out.count();
        } finally {
            sc.setJobDescription(null);
        }
        return out;
    }
}
