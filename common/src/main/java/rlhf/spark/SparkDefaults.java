package rlhf.spark;

import org.apache.spark.SparkConf;

/**
 * The Spark settings the trainer relies on, applied where the user has not set them.
 *
 * <ul>
 * <li>{@code spark.driver.maxResultSize=0}: every partition returns a whole gradient (4 bytes per
 * parameter), far above the 1g default for real models.</li>
 * <li>{@code spark.broadcast.compress=false}: parameters are random-looking floats; lz4 only
 * burns CPU on them.</li>
 * <li>{@code spark.task.maxFailures=4} where unset: a lost executor's tasks are retried (local[N]
 * mode ignores it; use local[N,4] to retry there).</li>
 * </ul>
 */
public final class SparkDefaults {

    private SparkDefaults() {
    }

    public static SparkConf apply(SparkConf conf) {
        conf.setIfMissing("spark.driver.maxResultSize", "0");
        conf.setIfMissing("spark.broadcast.compress", "false");
        conf.setIfMissing("spark.task.maxFailures", "4");
        return conf;
    }
}
