package rlhf.ppo;

/**
 * The exact optima of KL-regularised objectives on a one-step bandit, to check that PPO, GRPO and
 * RLOO converge to the right place: for a one-token response y with reference π_ref(y), reward
 * r(y) and coefficient β, the maximiser of E_π[r] - β KL(π ‖ π_ref) (the KL in the reward) is
 *
 * <pre>
 * π*(y) = π_ref(y) exp(r(y) / β) / Z
 * </pre>
 *
 * computed in log space (shifted by the max) so that large r/β does not overflow; and the
 * maximiser of E_π[r] - β KL(π_ref ‖ π), where a β·k3 loss term on samples of π leads (its
 * expected gradient on the logits is β(π - π_ref)), is {@link #forwardKlOptimum}.
 */
public final class OptimalPolicy {

    private OptimalPolicy() {
    }

    /** π* (V) from π_ref (V) and r (V); entries with π_ref = 0 stay 0. */
    public static double[] optimum(double[] piRef, double[] reward, double beta) {
        if (piRef.length != reward.length) {
            throw new IllegalArgumentException("piRef has " + piRef.length + " entries but reward has " + reward.length);
        }
        if (!(beta > 0)) {
            throw new IllegalArgumentException("beta must be > 0, found " + beta);
        }
        double[] out = new double[piRef.length];
        double max = Double.NEGATIVE_INFINITY;
        for (int y = 0; y < piRef.length; y++) {
            out[y] = piRef[y] > 0 ? Math.log(piRef[y]) + reward[y] / beta : Double.NEGATIVE_INFINITY;
            max = Math.max(max, out[y]);
        }
        if (max == Double.NEGATIVE_INFINITY) {
            throw new IllegalArgumentException("piRef has no positive entry");
        }
        double z = 0;
        for (int y = 0; y < out.length; y++) {
            out[y] = Math.exp(out[y] - max);
            z += out[y];
        }
        for (int y = 0; y < out.length; y++) {
            out[y] /= z;
        }
        return out;
    }

    /**
     * The maximiser of E_π[r] - β KL(π_ref ‖ π): setting the gradient on the logits to 0 gives
     * π(y) = β π_ref(y) / (λ - r(y)) with λ > max r over the support, found by bisection so that
     * the π sum to 1 (λ lies in (max r, max r + β], where the sum falls from +∞ to at most 1).
     */
    public static double[] forwardKlOptimum(double[] piRef, double[] reward, double beta) {
        if (piRef.length != reward.length) {
            throw new IllegalArgumentException("piRef has " + piRef.length + " entries but reward has " + reward.length);
        }
        if (!(beta > 0)) {
            throw new IllegalArgumentException("beta must be > 0, found " + beta);
        }
        double maxR = Double.NEGATIVE_INFINITY;
        for (int y = 0; y < piRef.length; y++) {
            if (piRef[y] > 0) {
                maxR = Math.max(maxR, reward[y]);
            }
        }
        if (maxR == Double.NEGATIVE_INFINITY) {
            throw new IllegalArgumentException("piRef has no positive entry");
        }
        double lo = maxR;
        double hi = maxR + beta;
        double[] out = new double[piRef.length];
        for (int iter = 0; iter < 200; iter++) {
            double mid = 0.5 * (lo + hi);
            double sum = 0;
            for (int y = 0; y < piRef.length; y++) {
                sum += piRef[y] > 0 ? beta * piRef[y] / (mid - reward[y]) : 0;
            }
            if (sum > 1) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        double z = 0;
        for (int y = 0; y < piRef.length; y++) {
            out[y] = piRef[y] > 0 ? beta * piRef[y] / (hi - reward[y]) : 0;
            z += out[y];
        }
        for (int y = 0; y < out.length; y++) {
            out[y] /= z; // the bisection's last bit of mass
        }
        return out;
    }

    /** Total variation distance ½ Σ |p - q| between two distributions over the same support. */
    public static double totalVariation(double[] p, double[] q) {
        if (p.length != q.length) {
            throw new IllegalArgumentException("p has " + p.length + " entries but q has " + q.length);
        }
        double s = 0;
        for (int y = 0; y < p.length; y++) {
            s += Math.abs(p[y] - q[y]);
        }
        return 0.5 * s;
    }
}
