package rlhf.optim;

import rlhf.config.JobConfig;

/**
 * The AdamW keys every training job reads with the same names and ranges (optim.weight_decay,
 * optim.beta1, optim.beta2, optim.eps, optim.grad_clip); the learning rates and their schedule
 * differ per job and stay with it. Serializable: PPO ships its settings to the executors.
 */
public record AdamWSettings(float weightDecay, float beta1, float beta2, float eps, float gradClip)
        implements java.io.Serializable {

    /** Reads and checks the keys; range errors name the key, the value and where it came from. */
    public static AdamWSettings from(JobConfig c) {
        return new AdamWSettings(
                (float) c.requireIn("optim.weight_decay", 0, 10),
                (float) c.requireIn("optim.beta1", 0, 0.999999),
                (float) c.requireIn("optim.beta2", 0, 0.999999999),
                (float) c.requirePositive("optim.eps"),
                (float) c.requireIn("optim.grad_clip", 0, 1e9));
    }
}
