package rlhf.spark;

import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.spark.SparkConf;

/**
 * The Spark settings the trainer relies on, for settings not already given.
 *
 * <ul>
 * <li>{@code spark.driver.maxResultSize=0}: every partition returns a whole gradient (4 bytes per
 * parameter), far above the 1g default for real models.</li>
 * <li>{@code spark.broadcast.compress=false}: parameters are random-looking floats; lz4 only
 * burns CPU on them.</li>
 * <li>{@code spark.broadcast.checksum=false}: an Adler32 over every piece of every broadcast, on the
 * driver and again on each executor, cost a third of the driver's time to broadcast the parameters
 * (30 of 90 ms for 92 MB); task results and shuffle blocks, which carry the gradients, have no such
 * checksum either.</li>
 * <li>{@code spark.task.maxFailures=4}: a lost executor's tasks are retried (local[N] mode ignores
 * it; local[N,4] retries there).</li>
 * <li>In local mode only ({@code local}, {@code local[N]}, {@code local[N,F]}, not local-cluster):
 * {@code spark.task.maxDirectResultSize} and {@code spark.rpc.message.maxSize} at their 2047 MB
 * ceiling, so gradients come back inside the task's status update instead of through a loopback
 * block-manager fetch: the job part of a 30M-parameter step went from about 1.0 s to 0.35 s. On a
 * cluster large results keep going through the block manager, which streams them.</li>
 * </ul>
 */
public final class SparkDefaults {

    private SparkDefaults() {
    }

    /** The settings for a session whose master is {@code master} (may be empty when unknown). */
    public static Map<String, String> settings(String master) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("spark.driver.maxResultSize", "0");
        s.put("spark.broadcast.compress", "false");
        s.put("spark.broadcast.checksum", "false");
        s.put("spark.task.maxFailures", "4");
        if (master.equals("local") || master.startsWith("local[")) {
            s.put("spark.rpc.message.maxSize", "2047");
            s.put("spark.task.maxDirectResultSize", "2047m");
        }
        return s;
    }

    /** Sets {@link #settings} on {@code conf} where missing, for the master set on it. */
    public static SparkConf apply(SparkConf conf) {
        settings(conf.get("spark.master", "")).forEach(conf::setIfMissing);
        return conf;
    }
}
