package rlhf.spark;

/**
 * One optimizer update in place: {@code params -= f(grads)}. The trainer hands it the gradient
 * already averaged over the global batch and clipped; the learning-rate schedule lives inside
 * (it gets the 0-based step number). Its state (AdamW moments) belongs to the implementation;
 * jobs save and restore it with their checkpoints next to {@link TrainerState}.
 */
@FunctionalInterface
public interface Optimizer {
    void step(float[] params, float[] grads, int step);
}
