package rlhf.optim;

/**
 * Linear warmup from 0 to maxLr over warmupSteps, then cosine decay to minLr at totalSteps,
 * constant minLr afterwards. Step numbers start at 0.
 */
public record LrSchedule(float maxLr, float minLr, int warmupSteps, int totalSteps) implements java.io.Serializable {

    public LrSchedule {
        if (!(maxLr >= 0f) || !(minLr >= 0f) || minLr > maxLr || warmupSteps < 0 || totalSteps < warmupSteps) {
            throw new IllegalArgumentException("learning-rate schedule needs 0 <= min_lr <= lr and 0 <= warmup_steps"
                    + " <= total_steps, found lr=" + maxLr + " min_lr=" + minLr + " warmup_steps=" + warmupSteps
                    + " total_steps=" + totalSteps);
        }
    }

    /** A constant learning rate. */
    public static LrSchedule constant(float lr) {
        return new LrSchedule(lr, lr, 0, 0);
    }

    public float lr(long step) {
        if (step < warmupSteps) {
            return maxLr * (step + 1) / warmupSteps;
        }
        if (step >= totalSteps) {
            return minLr;
        }
        double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
        return (float) (minLr + 0.5 * (maxLr - minLr) * (1.0 + Math.cos(Math.PI * progress)));
    }
}
