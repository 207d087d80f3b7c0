package rlhf.spark;

/**
 * Where a run is, for checkpoints: resuming from it (with the same data, seed, global batch and
 * the saved parameters and optimizer state) continues bit-identically.
 *
 * @param step     optimizer steps done so far (the next step has this 0-based number)
 * @param epoch    epoch of the next step
 * @param position examples of that epoch's order already consumed
 * @param seed     the run seed
 */
public record TrainerState(int step, long epoch, long position, long seed) {
}
