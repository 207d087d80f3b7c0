package rlhf.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;

class PpoLossTest {

    private static final double EPS = 0.2;

    @Test
    void policyClippingCasesByHand() {
        // five tokens in two sequences, a pad slot at index 3; ε = 0.2
        //   A= 1 ρ=1.5: max(-1.5, -1.2) = -1.2 clipped, grad 0
        //   A= 1 ρ=0.5: max(-0.5, -0.8) = -0.5,        grad -Aρ = -0.5
        //   A=-1 ρ=1.5: max( 1.5,  1.2) =  1.5,        grad  1.5
        //   A=-1 ρ=0.5: max( 0.5,  0.8) =  0.8 clipped, grad 0
        //   A= 2 ρ=1.1: inside the range, -2.2,        grad -2.2
        double[] ratio = {1.5, 0.5, 1.5, 1, 0.5, 1.1};
        double[] adv = {1, 1, -1, 7, -1, 2};
        double[] logpOld = {-1, -2, -0.5, -1, -3, -0.1};
        double[] logp = new double[6];
        for (int t = 0; t < 6; t++) {
            logp[t] = logpOld[t] + Math.log(ratio[t]);
        }
        int[] off = {0, 4};
        int[] len = {3, 2};
        // drop the pad slot from the hand table: tokens are 0, 1, 2, 4, 5
        double[] dlogp = new double[6];
        dlogp[3] = 9;
        PpoLoss.Stats stats = new PpoLoss.Stats();
        double loss = PpoLoss.policy(logp, logpOld, adv, off, len, 2, EPS, 1.0 / 5, dlogp, stats);
        assertEquals((-1.2 - 0.5 + 1.5 + 0.8 - 2.2) / 5, loss, 1e-14);
        assertArrayEquals(new double[] {0, -0.5 / 5, 1.5 / 5, 9, 0, -2.2 / 5}, dlogp, 1e-14);
        assertEquals(5, stats.policyTokens());
        assertEquals(2.0 / 5, stats.clipFraction(), 0);
        double k3 = 0;
        double halfSq = 0;
        for (int t : new int[] {0, 1, 2, 4, 5}) {
            k3 += (ratio[t] - 1) - Math.log(ratio[t]);
            halfSq += 0.5 * Math.log(ratio[t]) * Math.log(ratio[t]);
        }
        assertEquals(k3 / 5, stats.approxKl(), 1e-14);
        assertEquals(halfSq / 5, stats.approxKlHalfSq(), 1e-14);
    }

    @Test
    void valueClippingCasesByHand() {
        // ε_v = 0.2
        //   V=1.0 Vold=0.5 R=0: Vc=0.7, max(1, 0.49)/2 = 0.5 unclipped, grad V-R = 1
        //   V=1.0 Vold=0.5 R=2: Vc=0.7, max(1, 1.69)/2 = 0.845 clipped, grad 0
        //   V=0.6 Vold=0.5 R=2: inside, 1.96/2 = 0.98, grad -1.4
        double[] v = {1.0, 1.0, 0.6};
        double[] vOld = {0.5, 0.5, 0.5};
        double[] ret = {0, 2, 2};
        double[] dv = new double[3];
        PpoLoss.Stats stats = new PpoLoss.Stats();
        double loss = PpoLoss.value(v, vOld, ret, new int[] {0}, new int[] {3}, 1, EPS, 1.0 / 3, dv, stats);
        assertEquals((0.5 + 0.845 + 0.98) / 3, loss, 1e-14);
        assertArrayEquals(new double[] {1.0 / 3, 0, -1.4 / 3}, dv, 1e-14);
        assertEquals(1.0 / 3, stats.valueClipFraction(), 0);
    }

    @Test
    void entropyBonusLowersTheLossAndItsGradientIsMinusCoefPerToken() {
        double[] h = {2, 3, 99, 1};
        double[] dh = new double[4];
        double loss = PpoLoss.entropyBonus(h, new int[] {0, 3}, new int[] {2, 1}, 2, 0.01, 1.0 / 3, dh);
        assertEquals(-0.01 * 6 / 3, loss, 1e-15);
        assertArrayEquals(new double[] {-0.01 / 3, -0.01 / 3, 0, -0.01 / 3}, dh, 1e-15);
    }

    @Test
    void policyGradientMatchesCentralFiniteDifferences() {
        Random rnd = new Random(5);
        int n = 40;
        double[] logpOld = new double[n];
        double[] logp = new double[n];
        double[] adv = new double[n];
        for (int t = 0; t < n; t++) {
            logpOld[t] = -3 * rnd.nextDouble();
            double r;
            do {   // keep ρ away from the kinks at 1 ± ε, where the loss is not differentiable
                r = Math.exp(0.4 * rnd.nextGaussian());
            } while (Math.abs(r - 1 - EPS) < 1e-3 || Math.abs(r - 1 + EPS) < 1e-3);
            logp[t] = logpOld[t] + Math.log(r);
            adv[t] = rnd.nextGaussian();
        }
        int[] off = {0, 15, 30};
        int[] len = {12, 15, 10};
        double scale = 1.0 / 37;
        double[] grad = new double[n];
        PpoLoss.policy(logp, logpOld, adv, off, len, 3, EPS, scale, grad, new PpoLoss.Stats());
        checkGradient(logp, grad, x -> PpoLoss.policy(x, logpOld, adv, off, len, 3, EPS, scale, new double[n],
                new PpoLoss.Stats()));
    }

    @Test
    void valueGradientMatchesCentralFiniteDifferences() {
        Random rnd = new Random(6);
        int n = 30;
        double[] v = new double[n];
        double[] vOld = new double[n];
        double[] ret = new double[n];
        for (int t = 0; t < n; t++) {
            vOld[t] = rnd.nextGaussian();
            ret[t] = rnd.nextGaussian();
            double x;
            do {   // away from the clip edges and from where both branches are equal
                x = vOld[t] + 0.5 * rnd.nextGaussian();
            } while (Math.abs(Math.abs(x - vOld[t]) - EPS) < 1e-3
                    || Math.abs(Math.abs(x - ret[t]) - Math.abs(Math.max(vOld[t] - EPS, Math.min(vOld[t] + EPS, x)) - ret[t])) < 1e-3
                    && Math.abs(x - vOld[t]) > EPS);
            v[t] = x;
        }
        int[] off = {0, 10};
        int[] len = {10, 20};
        double[] grad = new double[n];
        PpoLoss.value(v, vOld, ret, off, len, 2, EPS, 0.5 / n, grad, new PpoLoss.Stats());
        checkGradient(v, grad, x -> PpoLoss.value(x, vOld, ret, off, len, 2, EPS, 0.5 / n, new double[n],
                new PpoLoss.Stats()));
    }

    @Test
    void entropyGradientMatchesCentralFiniteDifferences() {
        double[] h = {0.5, 1.5, 2.5, 0.1};
        double[] grad = new double[4];
        PpoLoss.entropyBonus(h, new int[] {0}, new int[] {4}, 1, 0.05, 0.25, grad);
        checkGradient(h, grad, x -> PpoLoss.entropyBonus(x, new int[] {0}, new int[] {4}, 1, 0.05, 0.25, new double[4]));
    }

    /** Central differences with h = 1e-6 in double; tolerance 1e-8 absolute. */
    private static void checkGradient(double[] x, double[] grad, ToDoubleFunction<double[]> f) {
        double h = 1e-6;
        for (int i = 0; i < x.length; i++) {
            double keep = x[i];
            x[i] = keep + h;
            double up = f.applyAsDouble(x);
            x[i] = keep - h;
            double down = f.applyAsDouble(x);
            x[i] = keep;
            assertEquals((up - down) / (2 * h), grad[i], 1e-8, "index " + i + " (tolerance 1e-8)");
        }
    }
}
