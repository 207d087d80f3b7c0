package rlhf.spark;

import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Where one optimizer step's time and bytes went.
 *
 * <p>Time: {@code compute} is the slowest partition's forward + backward (the step's critical
 * path on the executors), {@code optimizer} the average, clip and optimizer update (on the driver,
 * or the slowest shard's on the executors), and {@code exchange} the rest of the step's wall time:
 * broadcasting or gathering the parameters, scheduling, serializing, sending and summing the
 * gradients, and keeping the new shards.
 *
 * <p>Bytes are payloads, counted where they are made. Every executor that ran a task needs the
 * whole parameters once. Driver exchange: each executor reads them from the driver (the direct
 * transfer: {@code executors} copies), or they are broadcast (Spark's torrent broadcast takes the
 * pieces from the driver or from executors that already have them, so the driver sends between
 * one and {@code executors} copies: {@code driverOutBytesMax}), and every partition that held
 * examples of the batch sends one whole gradient to the driver. Sharded exchange: the driver
 * sends and receives nothing; every partition sends its gradient into the shuffle, cut into
 * shards; each executor receives one piece per partition for the shards it sums, gathers the
 * other shards' parameters from its peers (counted as the whole parameters) and sends a replica
 * of its new state and parameter shards to another executor. {@code executorIn/OutBytes} are the
 * most any one executor received or sent.
 */
public record ExchangeStats(double stepSeconds, double computeSeconds, double optimizerSeconds, int executors,
        long driverInBytes, long driverOutBytesMax, long executorInBytes, long executorOutBytes) {

    /** The step's wall time that was neither the slowest partition's compute nor the optimizer. */
    public double exchangeSeconds() {
        return Math.max(0, stepSeconds - computeSeconds - optimizerSeconds);
    }

    /** The figures of a step from what its exchange reported. */
    static ExchangeStats of(double stepSeconds, Exchange.Reduced r, Exchange.Update u, long paramBytes) {
        Set<String> executors = new HashSet<>(r.executorOut().keySet());
        executors.addAll(r.executorIn().keySet());
        executors.addAll(u.executorOut().keySet());
        Map<String, Long> out = new HashMap<>(r.executorOut());
        u.executorOut().forEach((e, n) -> out.merge(e, n, Long::sum));
        long inMax = r.executorIn().values().stream().mapToLong(x -> x).max().orElse(0);
        return new ExchangeStats(stepSeconds, r.computeNanos() / 1e9, u.optimizerSeconds(), executors.size(),
                r.driverInBytes() + u.driverInBytes(), u.paramsFromDriver() ? paramBytes * executors.size() : 0,
                paramBytes + inMax,
                out.values().stream().mapToLong(x -> x).max().orElse(0));
    }

    /** The metrics.jsonl fields of a step. */
    public Map<String, Double> metrics() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("time_compute_s", computeSeconds);
        m.put("time_exchange_s", exchangeSeconds());
        m.put("time_optimizer_s", optimizerSeconds);
        m.put("executors", (double) executors);
        m.put("driver_in_bytes", (double) driverInBytes);
        m.put("driver_out_bytes_max", (double) driverOutBytesMax);
        m.put("executor_in_bytes", (double) executorInBytes);
        m.put("executor_out_bytes", (double) executorOutBytes);
        return m;
    }
}
