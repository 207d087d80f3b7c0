package rlhf.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class KlPenaltyTest {

    @Test
    void k1AndK3HandValues() {
        assertEquals(1, KlPenalty.k1(-1, -2), 0);
        assertEquals(-1, KlPenalty.k1(-2, -1), 0);
        // d = logp_ref - logp = -1: ρ = 1/e, k3 = 1/e - 1 + 1 = 1/e
        assertEquals(Math.exp(-1), KlPenalty.k3(-1, -2), 1e-15);
        // d = 1: ρ = e, k3 = e - 1 - 1
        assertEquals(Math.E - 2, KlPenalty.k3(-2, -1), 1e-15);
        assertEquals(0, KlPenalty.k3(-0.7, -0.7), 0);
    }

    @Test
    void k3IsNeverNegativeIncludingTinyDifferences() {
        Random rnd = new Random(3);
        for (int i = 0; i < 100_000; i++) {
            double logp = -rnd.nextDouble() * 20;
            double d = rnd.nextGaussian() * Math.pow(10, -rnd.nextInt(17));
            assertTrue(KlPenalty.k3(logp, logp + d) >= 0, "logp=" + logp + " d=" + d);
        }
    }

    @Test
    void perTokenRewardsPenaliseEveryTokenAndAddTheClippedScoreAtTheLast() {
        double[] logp = {-1, -0.5, -2, 0, -3, -1};
        double[] ref = {-1.5, -0.5, -1, 0, -2, -1};
        double[] rewards = new double[6];
        double[] kl = new double[6];
        double[] seqKl = new double[2];
        rewards[3] = 42;
        // sequence 0 at 0..2 (score 3 clipped to 2), sequence 1 at 4..5 (score -0.5 unclipped)
        double total = KlPenalty.rewards(logp, ref, new int[] {0, 4}, new int[] {3, 2}, 2, new double[] {3, -0.5},
                0.1, 2, KlPenalty.Estimator.K1, rewards, kl, seqKl);
        assertArrayEquals(new double[] {-0.05, 0, 0.1 + 2, 42, 0.1, -0.5}, rewards, 1e-15);
        assertArrayEquals(new double[] {0.5, 0, -1, 0, -1, 0}, kl, 0);
        assertArrayEquals(new double[] {-0.5, -1}, seqKl, 0);
        assertEquals(-1.5, total, 0);
    }

    @Test
    void k3RewardsAndUnclippedScore() {
        double[] logp = {-1, -0.5, -2};
        double[] ref = {-1.5, -0.5, -1};
        double[] rewards = new double[3];
        double sum = KlPenalty.rewards(logp, ref, 0, 3, 3, 0.1, Double.POSITIVE_INFINITY, KlPenalty.Estimator.K3,
                rewards, null);
        double k0 = Math.exp(-0.5) - 1 + 0.5;
        double k2 = Math.E - 2;
        assertArrayEquals(new double[] {-0.1 * k0, 0, -0.1 * k2 + 3}, rewards, 1e-15);
        assertEquals(k0 + k2, sum, 1e-15);
    }

    @Test
    void bothEstimatorsAverageToTheExactKlUnderThePolicy() {
        double[] pi = {0.6, 0.3, 0.1};
        double[] ref = {0.2, 0.5, 0.3};
        double exact = 0;
        double e1 = 0;
        double e3 = 0;
        for (int y = 0; y < 3; y++) {
            exact += pi[y] * Math.log(pi[y] / ref[y]);
            e1 += pi[y] * KlPenalty.k1(Math.log(pi[y]), Math.log(ref[y]));
            e3 += pi[y] * KlPenalty.k3(Math.log(pi[y]), Math.log(ref[y]));
        }
        assertEquals(exact, e1, 1e-15);
        assertEquals(exact, e3, 1e-15);
    }
    @Test
    void k3LossTermGradientMatchesFiniteDifferencesAndIsScaled() {
        double[] logp = {-0.3, -2.0, -1.1, -0.7};
        double[] ref = {-0.9, -1.5, -1.1, -3.0};
        int[] off = {0, 2};
        int[] len = {2, 2};
        double beta = 0.7;
        double scale = 0.25;
        double[] g = new double[4];
        double loss = KlPenalty.lossTerm(logp, ref, off, len, 2, beta, scale, g);
        double want = 0;
        for (int t = 0; t < 4; t++) {
            want += Math.exp(ref[t] - logp[t]) - (ref[t] - logp[t]) - 1;
        }
        assertEquals(scale * beta * want, loss, 1e-12);
        double h = 1e-6;
        for (int t = 0; t < 4; t++) {
            double[] up = logp.clone();
            double[] down = logp.clone();
            up[t] += h;
            down[t] -= h;
            double fd = (KlPenalty.lossTerm(up, ref, off, len, 2, beta, scale, new double[4])
                    - KlPenalty.lossTerm(down, ref, off, len, 2, beta, scale, new double[4])) / (2 * h);
            assertEquals(fd, g[t], 1e-8, "token " + t);
        }
        assertEquals(0, g[2], 0, "no gradient where the policy equals the reference");
    }

    /**
     * Sampled from a softmax policy π, the k3 loss term's gradient on the logits averages to
     * β·(π - π_ref): Σ_y π_y (1 - π_ref,y/π_y)(e_y - π) = π - π_ref, the gradient of β·KL(π_ref ‖ π).
     */
    @Test
    void k3LossTermAveragesToTheGradientOfTheReverseKlOnTheLogits() {
        double[] pi = {0.6, 0.3, 0.1};
        double[] ref = {0.2, 0.5, 0.3};
        double beta = 0.5;
        double[] expected = new double[3];
        for (int y = 0; y < 3; y++) {
            double[] g = new double[1];
            KlPenalty.lossTerm(new double[] {Math.log(pi[y])}, new double[] {Math.log(ref[y])}, new int[] {0},
                    new int[] {1}, 1, beta, 1.0, g);
            for (int z = 0; z < 3; z++) {
                expected[z] += pi[y] * g[0] * ((z == y ? 1 : 0) - pi[z]); // d log π_y / d z_z
            }
        }
        for (int z = 0; z < 3; z++) {
            assertEquals(beta * (pi[z] - ref[z]), expected[z], 1e-12, "logit " + z);
        }
    }
}
