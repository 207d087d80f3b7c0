package rlhf.data;

import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaRDD;

/**
 * Examples converted on the executors, with the counts the conversion found: {@code count} good
 * examples, {@code dropped} bad rows (policy drop), how many of each kind of problem
 * ("'response' is null" -> 3), and the first few bad rows named ("file row N: reason"). The RDD is not cached: the caller caches what it keeps (usually tokenized data).
 */
public record Examples<T>(JavaRDD<T> rdd, long count, long dropped, Map<String, Long> droppedByKind,
        List<String> firstDropped) {

    /** The same rows and counts, another RDD (rows mapped one to one). */
    public <U> Examples<U> with(JavaRDD<U> other) {
        return new Examples<>(other, count, dropped, droppedByKind, firstDropped);
    }
}
