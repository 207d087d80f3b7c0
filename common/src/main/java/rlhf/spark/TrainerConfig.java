package rlhf.spark;

/**
 * What the trainer needs to know about a run.
 *
 * @param name         job name in Spark UI descriptions and messages ("sft")
 * @param globalBatch  examples (sequences, pairs, rollouts) per optimizer step, whatever the partitioning
 * @param microBatch   at most this many examples per forward/backward inside a task (gradient accumulation)
 * @param seed         the run seed: shuffles and every per-example seed derive from it
 * @param maxGradNorm  clip the averaged gradient to this global L2 norm; 0 disables clipping
 * @param totalSteps   planned number of steps (for descriptions "sft step 120/2000" only)
 * @param exchange     how gradients become an update (train.exchange); the bits are the same either way
 * @param exchangeShards shards of the sharded exchange (train.exchange_shards); 0 chooses
 */
public record TrainerConfig(String name, int globalBatch, int microBatch, long seed, float maxGradNorm,
        int totalSteps, ExchangeMode exchange, int exchangeShards) {

    /** train.exchange: the driver's exchange, the sharded one, or the faster for the master (auto). */
    public enum ExchangeMode { AUTO, DRIVER, SHARDED }

    /** The exchange chosen for the master, with as many shards as suit the cluster. */
    public TrainerConfig(String name, int globalBatch, int microBatch, long seed, float maxGradNorm, int totalSteps) {
        this(name, globalBatch, microBatch, seed, maxGradNorm, totalSteps, ExchangeMode.AUTO, 0);
    }

    public TrainerConfig {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("trainer name must be non-empty");
        }
        if (globalBatch < 1) {
            throw new IllegalArgumentException("globalBatch must be >= 1, found " + globalBatch);
        }
        if (microBatch < 1) {
            throw new IllegalArgumentException("microBatch must be >= 1, found " + microBatch);
        }
        if (!(maxGradNorm >= 0) || Float.isInfinite(maxGradNorm)) {
            throw new IllegalArgumentException("maxGradNorm must be finite and >= 0 (0 = no clipping), found "
                    + maxGradNorm);
        }
        if (exchange == null || exchangeShards < 0) {
            throw new IllegalArgumentException("exchange must be set and exchangeShards >= 0, found " + exchange
                    + " and " + exchangeShards);
        }
        if (totalSteps < 0) {
            throw new IllegalArgumentException("totalSteps must be >= 0, found " + totalSteps);
        }
    }
}
