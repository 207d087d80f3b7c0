package rlhf.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;

/**
 * Whole-partition passes with broadcast parameters, besides training steps (PPO: generate and
 * score rollouts, gather whitening statistics). Per-JVM model state goes through
 * {@link ExecutorStates#borrow} / {@link ExecutorStates#release}, as in training.
 */
public final class Partitions {

    private Partitions() {
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
