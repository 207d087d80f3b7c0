package rlhf.spark;

import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.spark.SparkConf;

/**
 * The Spark settings the trainer relies on, for settings not already given.
 *
 * <ul>
 * <li>{@code spark.driver.maxResultSize=0}: for a checkpoint the sharded exchange's shards send
 * the optimizer's moments to the driver (8 bytes per parameter in all), far above the 1g default
 * for real models.</li>
 * <li>{@code spark.broadcast.compress=false}: parameters are random-looking floats; lz4 only
 * burns CPU on them.</li>
 * <li>{@code spark.broadcast.checksum=false}: an Adler32 over every piece of every broadcast, on the
 * driver and again on each executor, cost about half of the driver's CPU time to broadcast the
 * parameters in local mode (92 MB: 47 to 63 ms with it, 22 to 35 ms without); the blocks and shuffle files that carry the gradients have no such
 * checksum either.</li>
 * <li>{@code spark.broadcast.blockSize=16m}, not in local mode: an executor fetches a broadcast
 * piece by piece, each piece a request and a report to the driver; GPT-2 124M's parameters are 118
 * pieces of the 4m default. On a 2-Worker standalone cluster a step's exchange took 5.3 s with 4m
 * pieces, 4.5 s with 8m, 4.0 s with 16m and 4.9 s with 32m (the torrent has fewer pieces to
 * spread). But every job broadcasts its task binary, and the driver allocates a whole piece for
 * each one, however small: in local mode, where the parameters are not broadcast, a PPO
 * minibatch's job took about 60 ms to launch with 16m pieces and 15 ms with 4m.</li>
 * <li>{@code spark.task.maxFailures=4}: a lost executor's tasks are retried (local[N] mode ignores
 * it; local[N,4] retries there).</li>
 * <li>In local mode only ({@code local}, {@code local[N]}, {@code local[N,F]}, not local-cluster):
 * {@code spark.task.maxDirectResultSize} and {@code spark.rpc.message.maxSize} at their 2047 MB
 * ceiling, so large task results (the sharded exchange's moments for a checkpoint) come back inside the
 * task's status update instead of through a loopback block-manager fetch. On a cluster large
 * results keep going through the block manager, which streams them.</li>
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
        } else {
            s.put("spark.broadcast.blockSize", "16m");
        }
        return s;
    }

    /** Sets {@link #settings} on {@code conf} where missing, for the master set on it. */
    public static SparkConf apply(SparkConf conf) {
        settings(conf.get("spark.master", "")).forEach(conf::setIfMissing);
        return conf;
    }
}
