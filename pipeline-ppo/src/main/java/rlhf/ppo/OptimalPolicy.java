package rlhf.ppo;

/**
 * The exact optimum of the KL-regularised objective on a one-step bandit, to check that PPO
 * converges to the right place: for a one-token response y with reference π_ref(y), reward r(y)
 * and coefficient β, the maximiser of E_π[r] - β KL(π ‖ π_ref) is
 *
 * <pre>
 * π*(y) = π_ref(y) exp(r(y) / β) / Z
 * </pre>
 *
 * computed in log space (shifted by the max) so that large r/β does not overflow.
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
