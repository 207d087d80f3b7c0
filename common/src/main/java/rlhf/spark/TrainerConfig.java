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
 */
public record TrainerConfig(String name, int globalBatch, int microBatch, long seed, float maxGradNorm,
        int totalSteps) {

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
        if (totalSteps < 0) {
            throw new IllegalArgumentException("totalSteps must be >= 0, found " + totalSteps);
        }
    }
}
