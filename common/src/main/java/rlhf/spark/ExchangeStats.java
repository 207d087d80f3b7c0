package rlhf.spark;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where one optimizer step's time and bytes went, with the current exchange (the parameters
 * broadcast, one gradient per partition back to the driver, the optimizer on the driver).
 *
 * <p>Time: {@code compute} is the slowest partition's forward + backward (the step's critical
 * path on the executors), {@code optimizer} the driver's average, clip and AdamW, and
 * {@code exchange} the rest of the step's wall time: broadcasting the parameters, scheduling,
 * serializing and sending the gradients, and folding them in partition order.
 *
 * <p>Bytes are payloads, counted where they are made: every executor that ran a task needs the
 * whole parameter broadcast once ({@code executorInBytes}; Spark's torrent broadcast takes the
 * pieces from the driver or from executors that already have them, so the driver sends between
 * one and {@code executors} copies), and every partition that held examples of the batch sends
 * one whole gradient to the driver ({@code driverInBytes}; {@code executorOutBytes} is the most
 * any one executor sent).
 */
public record ExchangeStats(double stepSeconds, double computeSeconds, double optimizerSeconds, long paramBytes,
        int executors, long driverInBytes, long executorOutBytes) {

    /** The step's wall time that was neither the slowest partition's compute nor the optimizer. */
    public double exchangeSeconds() {
        return Math.max(0, stepSeconds - computeSeconds - optimizerSeconds);
    }

    /** Bytes of the parameter broadcast each executor that ran a task received. */
    public long executorInBytes() {
        return paramBytes;
    }

    /** The metrics.jsonl fields of a step. */
    public Map<String, Double> metrics() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("time_compute_s", computeSeconds);
        m.put("time_exchange_s", exchangeSeconds());
        m.put("time_optimizer_s", optimizerSeconds);
        m.put("executors", (double) executors);
        m.put("driver_in_bytes", (double) driverInBytes);
        m.put("driver_out_bytes_max", (double) paramBytes * executors);
        m.put("executor_in_bytes", (double) executorInBytes());
        m.put("executor_out_bytes", (double) executorOutBytes);
        return m;
    }
}
