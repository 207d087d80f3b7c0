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
 * <li>{@code spark.task.maxFailures=4}: a lost executor's tasks are retried (local[N] mode ignores
 * it; local[N,4] retries there).</li>
 * <li>In local mode only ({@code local}, {@code local[N]}, {@code local[N,F]}, not local-cluster):
 * {@code spark.task.maxDirectResultSize} and {@code spark.rpc.message.maxSize} at their 2047 MB
 * ceiling, so gradients come back inside the status update instead of through the block manager
 * (a loopback fetch): a 30M-parameter step went from about 1.0 s to 0.35 s of job time. On a
 * cluster large results keep going through the block manager, which streams them.</li>
 * </ul>
 *
 * <p>The master must be set on {@code conf} (spark-submit does so through system properties) for
 * the local-mode settings to apply.
 */
public final class SparkDefaults {

    private SparkDefaults() {
    }

    public static SparkConf apply(SparkConf conf) {
        conf.setIfMissing("spark.driver.maxResultSize", "0");
        conf.setIfMissing("spark.broadcast.compress", "false");
        conf.setIfMissing("spark.task.maxFailures", "4");
        String master = conf.get("spark.master", "");
        if (master.equals("local") || master.startsWith("local[")) {
            conf.setIfMissing("spark.rpc.message.maxSize", "2047");
            conf.setIfMissing("spark.task.maxDirectResultSize", "2047m");
        }
        return conf;
    }
}
