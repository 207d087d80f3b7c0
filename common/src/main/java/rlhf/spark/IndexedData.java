package rlhf.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;

import scala.Tuple2;

/**
 * A dataset cached on the executors, each example with a stable global index (its position in the
 * source RDD, from {@code zipWithIndex}), one {@link Shard} per partition. The index, not the
 * partition, decides which step sees an example and which seeds it gets, so the partitioning can
 * change without changing the math (up to float summation order).
 *
 * <p>The source RDD must be deterministic (same rows in the same order when recomputed), because a
 * lost executor's shards are rebuilt from it.
 */
public final class IndexedData<E> implements Serializable {

    private static final long serialVersionUID = 1L;

    /** The examples of one partition in increasing global index order. */
    public static final class Shard<E> implements Serializable {
        private static final long serialVersionUID = 1L;
        public final long[] index;
        public final List<E> examples;

        public Shard(long[] index, List<E> examples) {
            if (index.length != examples.size()) {
                throw new IllegalArgumentException(index.length + " indices for " + examples.size() + " examples");
            }
            this.index = index;
            this.examples = examples;
        }

        public int size() {
            return index.length;
        }
    }

    private final transient JavaRDD<Shard<E>> shards;
    private final long count;

    private IndexedData(JavaRDD<Shard<E>> shards, long count) {
        this.shards = shards;
        this.count = count;
    }

    /**
     * Indexes, caches and counts {@code source} (one Spark job for the count, plus one inside
     * zipWithIndex when there are several partitions). Fails on an empty dataset.
     *
     * @param what names the data in messages ("sft train data s3a://.../train.jsonl")
     */
    public static <E> IndexedData<E> cache(JavaRDD<E> source, StorageLevel level, String what) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(source.context());
        sc.setJobDescription("index and cache " + what);
        long n;
        JavaRDD<Shard<E>> shards;
        try {
            shards = source.zipWithIndex().mapPartitions(IndexedData::toShard, true);
            shards.setName("indexed " + what).persist(level);
            n = shards.map(s -> (long) s.size()).fold(0L, Long::sum);
        } finally {
            sc.setJobDescription(null);
        }
        if (n == 0) {
            shards.unpersist(false);
            throw new IllegalArgumentException("no examples in " + what + ": expected at least one row");
        }
        return new IndexedData<>(shards, n);
    }

    private static <E> Iterator<Shard<E>> toShard(Iterator<Tuple2<E, Long>> rows) {
        List<E> examples = new ArrayList<>();
        long[] index = new long[16];
        int n = 0;
        while (rows.hasNext()) {
            Tuple2<E, Long> r = rows.next();
            if (n == index.length) {
                index = java.util.Arrays.copyOf(index, 2 * n);
            }
            index[n++] = r._2();
            examples.add(r._1());
        }
        return Collections.singletonList(new Shard<>(java.util.Arrays.copyOf(index, n), examples)).iterator();
    }

    /**
     * "; tokenized and cached in 12.3 s (81300 rows/s)": for the log line of data prepared since
     * {@code t0} (System.nanoTime), {@code rows} of it read, converted, tokenized and cached.
     */
    public static String preparedIn(long rows, long t0) {
        double s = (System.nanoTime() - t0) / 1e9;
        return String.format(java.util.Locale.ROOT, "; tokenized and cached in %.1f s (%.0f rows/s)", s,
                rows / Math.max(s, 1e-9));
    }

    /** An example and its global index. */
    public record Picked<E>(long index, E example) {
    }

    /**
     * The examples of {@code shards} (one task's) at positions [lo, hi) of {@code perm}, in
     * ascending global index: the positions mapped back through the permutation and looked up in
     * the shards' sorted indices, so the cost is O((hi - lo) log n), whatever the dataset's size.
     */
    public static <E> List<Picked<E>> atPositions(EpochPermutation perm, long lo, long hi, List<Shard<E>> shards) {
        List<Picked<E>> out = new ArrayList<>();
        for (long pos = lo; pos < hi; pos++) {
            long i = perm.index(pos);
            E e = find(shards, i);
            if (e != null) {
                out.add(new Picked<>(i, e));
            }
        }
        out.sort(java.util.Comparator.comparingLong(Picked::index));
        return out;
    }

    /** The example of global index {@code i} in these shards, or null when none holds it. */
    public static <E> E find(List<Shard<E>> shards, long i) {
        for (Shard<E> shard : shards) {
            int j = java.util.Arrays.binarySearch(shard.index, i);
            if (j >= 0) {
                return shard.examples.get(j);
            }
        }
        return null;
    }

    /** A task's shards, as a list. */
    public static <E> List<Shard<E>> list(Iterator<Shard<E>> shards) {
        List<Shard<E>> out = new ArrayList<>();
        shards.forEachRemaining(out::add);
        return out;
    }

    /** Maps an example, knowing its global index; runs on the executors. */
    @FunctionalInterface
    public interface IndexedMapper<E, F> extends Serializable {
        F map(long index, E example);
    }

    /**
     * Every example mapped with its global index, in the same partitions, cached at {@code level}
     * and materialised (one job). The indices and the count stay; this data stays cached too, as
     * the caller decides (unpersisting it makes a lost partition of the result recompute through
     * this data's own lineage).
     */
    public <F> IndexedData<F> mapExamples(IndexedMapper<E, F> mapper, StorageLevel level, String what) {
        JavaRDD<Shard<F>> mapped = shards.map(shard -> {
            List<F> out = new ArrayList<>(shard.size());
            for (int j = 0; j < shard.size(); j++) {
                out.add(mapper.map(shard.index[j], shard.examples.get(j)));
            }
            return new Shard<>(shard.index, out);
        });
        mapped.setName("indexed " + what).persist(level);
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(shards.context());
        sc.setJobDescription("cache " + what);
        try {
            mapped.count();
        } finally {
            sc.setJobDescription(null);
        }
        return new IndexedData<>(mapped, count);
    }

    /** The cached shards, one per partition (PPO runs its own passes over them). */
    public JavaRDD<Shard<E>> shards() {
        return shards;
    }

    /** Number of examples. */
    public long count() {
        return count;
    }

    public int partitions() {
        return shards.getNumPartitions();
    }

    public void unpersist() {
        shards.unpersist(false);
    }
}
