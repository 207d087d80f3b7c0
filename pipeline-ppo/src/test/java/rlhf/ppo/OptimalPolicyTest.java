package rlhf.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class OptimalPolicyTest {

    private static final double[] REF = {0.5, 0.25, 0.25};

    @Test
    void handComputedOptimumAndTotalVariation() {
        double beta = 0.5;
        // exp(r / β) = [1, 2, 1] -> [0.5, 0.5, 0.25] / 1.25
        double[] opt = OptimalPolicy.optimum(REF, new double[] {0, beta * Math.log(2), 0}, beta);
        assertArrayEquals(new double[] {0.4, 0.4, 0.2}, opt, 1e-15);
        assertEquals(0.15, OptimalPolicy.totalVariation(opt, REF), 1e-15);
    }

    @Test
    void optimumBeatsNearbyDistributionsOnTheRegularisedObjective() {
        double[] r = {1, -0.5, 2};
        double beta = 0.7;
        double[] opt = OptimalPolicy.optimum(REF, r, beta);
        assertBeatsPerturbations(opt, q -> objective(q, r, beta), 11);
    }

    /** {@code opt} scores higher than 200 random multiplicative perturbations of it. */
    private static void assertBeatsPerturbations(double[] opt, java.util.function.ToDoubleFunction<double[]> objective,
            long seed) {
        double best = objective.applyAsDouble(opt);
        Random rnd = new Random(seed);
        for (int i = 0; i < 200; i++) {
            double[] q = opt.clone();
            double z = 0;
            for (int y = 0; y < q.length; y++) {
                q[y] *= Math.exp(0.1 * rnd.nextGaussian());
                z += q[y];
            }
            for (int y = 0; y < q.length; y++) {
                q[y] /= z;
            }
            assertTrue(objective.applyAsDouble(q) < best, "perturbation " + i);
        }
    }

    @Test
    void handComputedForwardKlOptimum() {
        // β = 1, r = [0, 0, 1]: π = [0.5, 0.25, 0.25 (λ - 1)^-1 ...] with 0.75/λ + 0.25/(λ - 1) = 1 -> λ = 1.5
        double[] opt = OptimalPolicy.forwardKlOptimum(REF, new double[] {0, 0, 1}, 1.0);
        assertArrayEquals(new double[] {1.0 / 3, 1.0 / 6, 0.5}, opt, 1e-12);
    }

    @Test
    void forwardKlOptimumBeatsNearbyDistributions() {
        double[] r = {1, -0.5, 2};
        double beta = 0.7;
        double[] opt = OptimalPolicy.forwardKlOptimum(REF, r, beta);
        assertBeatsPerturbations(opt, q -> forwardObjective(q, r, beta), 12);
    }

    /** E_q[r] - β KL(π_ref ‖ q). */
    private static double forwardObjective(double[] q, double[] r, double beta) {
        double v = 0;
        for (int y = 0; y < q.length; y++) {
            v += q[y] * r[y] - beta * REF[y] * Math.log(REF[y] / q[y]);
        }
        return v;
    }

    @Test
    void largeRewardOverBetaDoesNotOverflowAndZeroReferenceStaysZero() {
        double[] opt = OptimalPolicy.optimum(new double[] {0.5, 0.5, 0}, new double[] {1000, 0, 5000}, 0.01);
        assertArrayEquals(new double[] {1, 0, 0}, opt, 0);
    }

    /** E_π[r] - β KL(π ‖ π_ref). */
    private static double objective(double[] p, double[] r, double beta) {
        double s = 0;
        for (int y = 0; y < p.length; y++) {
            s += p[y] * r[y] - beta * p[y] * Math.log(p[y] / REF[y]);
        }
        return s;
    }
}
