package rlhf.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GaeTest {

    private static final double[] R = {1, 0, 2};
    private static final double[] V = {0.5, 1.0, 0.2};

    @Test
    void threeTokensMatchHandComputedAdvantagesAndReturns() {
        double[] adv = new double[3];
        double[] ret = new double[3];
        Gae.compute(R, V, 0, 3, 0.9, 0.8, adv, ret);
        // δ2 = 2 - 0.2 = 1.8;  δ1 = 0 + 0.9·0.2 - 1 = -0.82;  δ0 = 1 + 0.9·1 - 0.5 = 1.4;  γλ = 0.72
        // A2 = 1.8;  A1 = -0.82 + 0.72·1.8 = 0.476;  A0 = 1.4 + 0.72·0.476 = 1.74272
        assertArrayEquals(new double[] {1.74272, 0.476, 1.8}, adv, 1e-12);
        assertArrayEquals(new double[] {2.24272, 1.476, 2.0}, ret, 1e-12);
    }

    @Test
    void gammaOneLambdaOneGivesRewardToGo() {
        double[] adv = new double[3];
        double[] ret = new double[3];
        Gae.compute(R, V, 0, 3, 1, 1, adv, ret);
        assertArrayEquals(new double[] {3, 2, 2}, ret, 1e-12);
        assertArrayEquals(new double[] {2.5, 1, 1.8}, adv, 1e-12);
    }

    @Test
    void lambdaZeroGivesOneStepTdErrors() {
        double[] adv = new double[3];
        double[] ret = new double[3];
        Gae.compute(R, V, 0, 3, 0.9, 0, adv, ret);
        assertArrayEquals(new double[] {1.4, -0.82, 1.8}, adv, 1e-12);
    }

    @Test
    void sequencesOfDifferentLengthsEndIndependentlyAndPaddingIsUntouched() {
        // padded (B=2, T=3): row 0 = R/V, row 1 = two tokens then one pad slot
        double[] r = {1, 0, 2, 0, 1, 99};
        double[] v = {0.5, 1.0, 0.2, 0.3, 0.4, 99};
        double[] adv = new double[6];
        double[] ret = new double[6];
        adv[5] = Double.NaN;
        ret[5] = Double.NaN;
        Gae.compute(r, v, new int[] {0, 3}, new int[] {3, 2}, 2, 0.9, 0.8, adv, ret);
        // row 1: δ1 = 1 - 0.4 = 0.6;  δ0 = 0.9·0.4 - 0.3 = 0.06;  A0 = 0.06 + 0.72·0.6 = 0.492
        assertArrayEquals(new double[] {1.74272, 0.476, 1.8, 0.492, 0.6}, java.util.Arrays.copyOf(adv, 5), 1e-12);
        assertArrayEquals(new double[] {2.24272, 1.476, 2.0, 0.792, 1.0}, java.util.Arrays.copyOf(ret, 5), 1e-12);
        assertTrue(Double.isNaN(adv[5]) && Double.isNaN(ret[5]));
    }

    @Test
    void outOfRangeGammaIsRejectedByName() {
        var e = assertThrows(IllegalArgumentException.class, () -> Gae.compute(R, V, new int[] {0}, new int[] {3}, 1,
                1.5, 0.9, new double[3], new double[3]));
        assertEquals("gamma must be in [0, 1], found 1.5", e.getMessage());
    }
}
