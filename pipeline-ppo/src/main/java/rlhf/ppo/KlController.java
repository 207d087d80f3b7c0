package rlhf.ppo;

/**
 * The KL coefficient β of the per-token penalty: fixed, or adapted towards a target KL
 * (Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences", eq. 2):
 *
 * <pre>
 * e = clip(KL / KL_target - 1, -0.2, 0.2)
 * β ← β · (1 + e · n / horizon)
 * </pre>
 *
 * where KL is the mean over the iteration's rollouts of each rollout's KL summed over its response
 * tokens, and n the number of rollouts in the iteration. Immutable: {@link #update} returns the
 * next controller, and the record's fields are the whole state a checkpoint must keep.
 */
public record KlController(boolean adaptive, double beta, double target, double horizon) {

    /** Bound on the proportional error, as in the paper. */
    public static final double MAX_ERROR = 0.2;

    public KlController {
        if (!(beta >= 0) || Double.isInfinite(beta)) {
            throw new IllegalArgumentException("init_kl_coef (beta) must be a finite number >= 0, found " + beta);
        }
        if (adaptive && !(target > 0)) {
            throw new IllegalArgumentException("target KL must be > 0 for the adaptive controller, found " + target);
        }
        if (adaptive && !(horizon > 0)) {
            throw new IllegalArgumentException("horizon must be > 0 for the adaptive controller, found " + horizon);
        }
    }

    public static KlController fixed(double beta) {
        return new KlController(false, beta, 0, 0);
    }

    public static KlController adaptive(double beta, double target, double horizon) {
        return new KlController(true, beta, target, horizon);
    }

    /** The controller after an iteration of n rollouts whose mean per-rollout KL was {@code meanKl}. */
    public KlController update(double meanKl, long n) {
        if (!adaptive) {
            return this;
        }
        if (!Double.isFinite(meanKl)) {
            throw new IllegalArgumentException("mean KL of the iteration is not finite: " + meanKl);
        }
        double e = Math.max(-MAX_ERROR, Math.min(MAX_ERROR, meanKl / target - 1));
        return new KlController(true, beta * (1 + e * n / horizon), target, horizon);
    }
}
