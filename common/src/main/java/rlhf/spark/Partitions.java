package rlhf.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

import org.apache.spark.SimpleFutureAction;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.BlockResult;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.storage.TaskResultBlockId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.tensor.Parallel;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.BoxedUnit;

/**
 * Whole-partition passes: the in-order fold of large per-partition results that every training
 * step uses ({@link #foldInOrder}), and passes with broadcast parameters besides training steps
 * (PPO: generate and score rollouts, gather whitening statistics). Per-JVM model state goes
 * through {@link ExecutorStates#borrow} / {@link ExecutorStates#release}.
 */
public final class Partitions {

    private static final Logger LOG = LoggerFactory.getLogger(Partitions.class);

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
     * run, retried tasks and lost executors give bit-identical sums) while results that arrive
     * early wait where they were made: the driver holds at most {@value #FETCHES_IN_FLIGHT}
     * partition results at once, the one being added and the next one coming over the network
     * (unlike collect, or treeAggregate whose merge order follows task completion).
     *
     * <p>A result does not travel back inside the task's status: the task stores it in its
     * executor's block manager (deserialized, spilling to disk if memory is short) and returns only
     * its block id; the driver takes the results from there in order and removes them. In local mode
     * that hands the very object over (no serialization at all); on a cluster the result is
     * serialized once on the executor and read once on the driver, where a task's status would
     * serialize it twice on each side. A result lost with its executor before the driver took it is
     * computed again from its partition (deterministic, so with the same bits).
     *
     * @param description the Spark UI's description of the job ("sft step 3/100")
     */
    public static <T, R> void foldInOrder(JavaSparkContext sc, String description, JavaRDD<T> rdd,
            PartitionTask<T, R> task, Fold<R> fold) {
        int n = rdd.getNumPartitions();
        long[] blocks = new long[n];
        boolean[] arrived = new boolean[n];
        boolean[] taken = new boolean[n];
        sc.setJobDescription(description);
        // fetcher threads inherit the job description (Spark's local properties), for the reruns
        ExecutorService fetchers = Executors.newFixedThreadPool(FETCHES_IN_FLIGHT, r -> {
            Thread t = new Thread(r, "fold-in-order fetch");
            t.setDaemon(true);
            return t;
        });
        SimpleFutureAction<BoxedUnit> job = null;
        try {
            SimpleFutureAction<BoxedUnit> submitted = submitStoring(sc, rdd, task, partitions(0, n), (p, block) -> {
                synchronized (blocks) {
                    blocks[p] = block;
                    arrived[p] = true;
                    blocks.notifyAll();
                }
            });
            job = submitted;
            // partition p's result, taken from its executor once it is stored there
            IntFunction<Callable<R>> fetch = p -> () -> {
                long block;
                synchronized (blocks) {
                    while (!arrived[p] && !submitted.isCompleted()) {
                        blocks.wait(50);
                    }
                    if (!arrived[p]) {
                        rethrowFailure(submitted, description);
                        throw new IllegalStateException(description + ": the job ended without partition " + p);
                    }
                    block = blocks[p];
                }
                R value = take(block, description);
                for (int retry = 1; value == null; retry++) {
                    if (retry > RESULT_RETRIES) {
                        throw new IllegalStateException(description + ": the result of partition " + p + " was lost "
                                + RESULT_RETRIES + " times with its executor");
                    }
                    LOG.warn("{}: the result of partition {} was lost with its executor; computing it again",
                            description, p);
                    value = take(rerun(sc, rdd, task, p, description), description);
                }
                synchronized (blocks) {
                    taken[p] = true;
                }
                return value;
            };
            List<Future<R>> pending = new ArrayList<>();
            for (int p = 0; p < n; p++) {
                // the next results come over the network while this one is added
                for (int q = pending.size(); q < Math.min(n, p + FETCHES_IN_FLIGHT); q++) {
                    pending.add(fetchers.submit(fetch.apply(q)));
                }
                R value = await(pending.get(p), description);
                pending.set(p, null);
                fold.accept(p, value);
            }
        } finally {
            fetchers.shutdownNow();
            awaitQuietly(fetchers);
            if (job != null && !job.isCompleted()) {
                job.cancel();
            }
            synchronized (blocks) {
                for (int p = 0; p < n; p++) {
                    if (arrived[p] && !taken[p]) {
                        removeResult(blocks[p]);
                    }
                }
            }
            sc.setJobDescription(null);
        }
    }

    /**
     * Results fetched at once by {@link #foldInOrder}: the one being added and the next one, each
     * from its own executor. The driver holds at most this many partition results besides its sums.
     */
    private static final int FETCHES_IN_FLIGHT = 2;

    private static <R> R await(Future<R> f, String description) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(description + ": interrupted while waiting for partition results", e);
        } catch (ExecutionException e) {
            Throwable t = e.getCause();
            if (t instanceof RuntimeException r) {
                throw r;
            }
            if (t instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(description + ": " + t.getMessage(), t);
        }
    }

    private static void awaitQuietly(ExecutorService pool) {
        try {
            pool.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Times a result lost with its executor is computed again before the step fails. */
    private static final int RESULT_RETRIES = 3;

    /** Receives (partition, block id of its stored result) on the driver. */
    private interface Stored {
        void accept(int partition, long block);
    }

    /** Submits the job that runs {@code task} on {@code parts} and stores each result as a block. */
    private static <T, R> SimpleFutureAction<BoxedUnit> submitStoring(JavaSparkContext sc, JavaRDD<T> rdd,
            PartitionTask<T, R> task, scala.collection.immutable.Seq<Object> parts, Stored stored) {
        return sc.sc().submitJob(rdd.rdd(),
                (scala.Function1<scala.collection.Iterator<T>, Long> & Serializable) it -> {
                    TaskContext ctx = TaskContext.get();
                    R r = task.run(ctx.partitionId(), CollectionConverters.asJava(it));
                    BlockId id = new TaskResultBlockId(ctx.taskAttemptId());
                    if (!SparkEnv.get().blockManager().putSingle(id, new Box<>(r), StorageLevel.MEMORY_AND_DISK(),
                            true, ClassTag$.MODULE$.apply(Box.class))) {
                        throw new IllegalStateException("partition " + ctx.partitionId()
                                + ": the block manager refused its result");
                    }
                    return ctx.taskAttemptId();
                },
                parts,
                (scala.Function2<Object, Long, BoxedUnit> & Serializable) (p, block) -> {
                    stored.accept((Integer) p, block);
                    return BoxedUnit.UNIT;
                },
                (scala.Function0<BoxedUnit> & Serializable) () -> BoxedUnit.UNIT);
    }

    /** Runs {@code task} on partition p alone, again; returns the block of its result. */
    private static <T, R> long rerun(JavaSparkContext sc, JavaRDD<T> rdd, PartitionTask<T, R> task, int p,
            String description) {
        long[] block = {-1};
        SimpleFutureAction<BoxedUnit> job = submitStoring(sc, rdd, task, partitions(p, p + 1), (i, b) -> block[0] = b);
        try {
            scala.concurrent.Await.ready(job, scala.concurrent.duration.Duration.Inf());
        } catch (InterruptedException | java.util.concurrent.TimeoutException e) {
            job.cancel();
            throw new IllegalStateException(description + ": interrupted while computing partition " + p + " again", e);
        }
        rethrowFailure(job, description);
        return block[0];
    }

    /**
     * A partition result whose bulk its executor keeps until the driver fetches it, once the
     * result itself was taken ({@link DirectTransfer}).
     */
    public interface Remote {
        /** Fetches the bulk; false if it is gone (with its executor): the partition runs again. */
        boolean fetch(String description);
    }

    /**
     * The result stored under {@code block}, removed from the block manager, with its bulk if it
     * is {@link Remote}; null if it is gone.
     */
    private static <R> R take(long block, String description) {
        BlockId id = new TaskResultBlockId(block);
        Box<R> box = singleValue(SparkEnv.get().blockManager().get(id, ClassTag$.MODULE$.apply(Box.class)));
        if (box == null) {
            return null;
        }
        removeResult(block);
        if (box.value instanceof Remote r && !r.fetch(description)) {
            return null;
        }
        return box.value;
    }

    /**
     * The one value of a block that holds a single object (a partition result, a parameter shard),
     * or null if the block was not found; its read lock released.
     */
    @SuppressWarnings("unchecked")
    static <T> T singleValue(scala.Option<BlockResult> got) {
        if (got.isEmpty()) {
            return null;
        }
        scala.collection.Iterator<Object> data = got.get().data();
        T value = (T) data.next();
        data.hasNext();                         // runs the iterator's completion: releases a local block's read lock
        return value;
    }

    private static void removeResult(long block) {
        SparkEnv.get().blockManager().master().removeBlock(new TaskResultBlockId(block));
    }

    private static void rethrowFailure(SimpleFutureAction<BoxedUnit> job, String description) {
        if (job.isCompleted() && job.value().get().isFailure()) {
            Throwable t = job.value().get().failed().get();
            if (t instanceof RuntimeException r) {
                throw r;
            }
            if (t instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException(description + ": " + t.getMessage(), t);
        }
    }

    private static scala.collection.immutable.Seq<Object> partitions(int from, int to) {
        List<Object> ids = new ArrayList<>();
        for (int p = from; p < to; p++) {
            ids.add(p);
        }
        return CollectionConverters.asScala(ids).toList();
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
     * @param params      the parameters each task reads, or null when it reads none (the task is given null)
     */
    public static <T, R> List<R> runOnEach(JavaSparkContext sc, String description, JavaRDD<T> rdd,
            Broadcast<Floats> params, Task<T, R> task) {
        sc.setJobDescription(description);
        try {
            // collect() concatenates partition outputs in partition order, whatever the finish order.
            return new ArrayList<>(rdd.mapPartitionsWithIndex(
                    (i, rows) -> List.of(new Box<>(task.run(i, params == null ? null : params.value().values(), rows)))
                            .iterator(), true)
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
     * per-step one. Null: the mapper is given null (a step without a model's parameters).
     */
    public static <T, U> JavaRDD<U> mapCached(JavaSparkContext sc, String description, JavaRDD<T> rdd,
            Broadcast<Floats> params, Mapper<T, U> mapper, StorageLevel level) {
        JavaRDD<U> out = rdd.mapPartitionsWithIndex((i, rows) -> mapper.map(i,
                params == null ? null : params.value().values(), rows), true);
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
