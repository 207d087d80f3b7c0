package rlhf.data;

import java.util.List;

import org.apache.spark.api.java.JavaRDD;

/**
 * Examples converted on the executors, with the counts the conversion found: {@code count} good
 * examples, {@code dropped} bad rows (policy drop), and the first few bad rows named ("file row
 * N: reason"). The RDD is not cached: the caller caches what it keeps (usually tokenized data).
 */
public record Examples<T>(JavaRDD<T> rdd, long count, long dropped, List<String> firstDropped) {}
