package rlhf.spark;

import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaRDD;
import scala.Tuple2;

/**
 * A partitioner that sends index i of n to partition floor(i * parts / n): consecutive index
 * ranges in index order. The jobs use it to spread a dataset over {@code data.partitions} so
 * that the global index of every example (which decides its step and its seeds) is the same
 * for any number of partitions.
 */
public final class IndexRanges extends Partitioner {
    private static final long serialVersionUID = 1L;
    private final long n;
    private final int parts;

    public IndexRanges(long n, int parts) {
        this.n = Math.max(1, n);
        this.parts = parts;
    }

    /**
     * {@code rdd} (of {@code n} elements) re-spread into {@code parts} partitions holding
     * consecutive index ranges in index order. One shuffle, sorted by index: deterministic on
     * recomputation.
     */
    public static <T> JavaRDD<T> respread(JavaRDD<T> rdd, long n, int parts) {
        if (parts == rdd.getNumPartitions()) {
            return rdd;
        }
        return rdd.zipWithIndex()
                .mapToPair(t -> new Tuple2<>(t._2(), t._1()))
                .repartitionAndSortWithinPartitions(new IndexRanges(n, parts))
                .values();
    }

    @Override
    public int numPartitions() {
        return parts;
    }

    @Override
    public int getPartition(Object key) {
        long i = (Long) key;
        return (int) Math.min(parts - 1, Math.max(0, i * parts / n));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof IndexRanges r && r.n == n && r.parts == parts;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(n) * 31 + parts;
    }
}
