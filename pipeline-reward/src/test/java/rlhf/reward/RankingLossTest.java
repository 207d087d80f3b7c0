package rlhf.reward;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class RankingLossTest {

    // Two pairs over K = 3 answers: (0 > 1, margin 0) with gap 0, and (2 > 1, margin 1) with
    // r2 - r1 - 1 = ln 3, so σ(-x) is 1/2 and 1/4 and softplus(-x) is ln 2 and ln(4/3).
    private static final double LN3 = Math.log(3);
    private static final double[] R = {0.5, 0.5, 1.5 + LN3};
    private static final int[] BETTER = {0, 2};
    private static final int[] WORSE = {1, 1};
    private static final double[] MARGIN = {0, 1};

    @Test
    void twoPairLossAndGradientMatchHandValues() {
        double[] dr = new double[3];
        double loss = RankingLoss.loss(R, 0, BETTER, WORSE, MARGIN, 0, 2, 0, dr, 0);
        assertEquals((Math.log(2) + Math.log(4.0 / 3)) / 2, loss, 1e-15);
        // pair A: ∓ σ(0)/2 = ∓0.25 on (0, 1); pair B: ∓ σ(-ln 3)/2 = ∓0.125 on (2, 1)
        assertArrayEquals(new double[] {-0.25, 0.375, -0.125}, dr, 1e-15);
    }

    @Test
    void centeringAddsMeanSquaredPairSumAndItsGradient() {
        double c = 0.1;
        double sA = R[0] + R[1];                  // 1
        double sB = R[2] + R[1];                  // 2 + ln 3
        double[] dr = new double[3];
        double loss = RankingLoss.loss(R, 0, BETTER, WORSE, MARGIN, 0, 2, c, dr, 0);
        assertEquals((Math.log(2) + Math.log(4.0 / 3)) / 2 + c * (sA * sA + sB * sB) / 2, loss, 1e-14);
        // d/dr of c/2 Σ (r_b + r_w)² is c (r_b + r_w) on both answers of each pair
        assertArrayEquals(new double[] {-0.25 + c * sA, 0.375 + c * sA + c * sB, -0.125 + c * sB}, dr, 1e-14);
    }

    @Test
    void gradientAccumulatesAtOffsetsAndLeavesNeighboursAlone() {
        double[] r = {99, R[0], R[1], R[2]};
        int[] better = {7, 0, 2};
        int[] worse = {7, 1, 1};
        double[] margin = {7, 0, 1};
        double[] dr = {1, 1, 1, 1, 1};
        double loss = RankingLoss.loss(r, 1, better, worse, margin, 1, 2, 0, dr, 2);
        assertEquals((Math.log(2) + Math.log(4.0 / 3)) / 2, loss, 1e-15);
        assertArrayEquals(new double[] {1, 1, 0.75, 1.375, 0.875}, dr, 1e-15);
    }

    @Test
    void gradientMatchesCentralFiniteDifferencesInDouble() {
        Random rnd = new Random(7);
        int K = 5;
        double[] r = new double[K];
        for (int k = 0; k < K; k++) {
            r[k] = rnd.nextGaussian() * 2;
        }
        int[] better = {0, 0, 1, 3, 4, 2, 0};
        int[] worse = {1, 2, 2, 1, 0, 3, 4};
        double[] margin = {0.3, 0, 1.2, 0.5, 0, 0.7, 0.1};
        double c = 0.3;
        double[] dr = new double[K];
        RankingLoss.loss(r, 0, better, worse, margin, 0, better.length, c, dr, 0);
        double h = 1e-6;
        for (int k = 0; k < K; k++) {
            double keep = r[k];
            r[k] = keep + h;
            double up = RankingLoss.loss(r, 0, better, worse, margin, 0, better.length, c, null, 0);
            r[k] = keep - h;
            double down = RankingLoss.loss(r, 0, better, worse, margin, 0, better.length, c, null, 0);
            r[k] = keep;
            assertEquals((up - down) / (2 * h), dr[k], 1e-8, "answer " + k + " (tolerance 1e-8)");
        }
    }

    @Test
    void hugeRewardGapsStayFinite() {
        double[] dr = new double[2];
        double won = RankingLoss.loss(new double[] {1000, -1000}, 0, new int[] {0}, new int[] {1}, null, 0, 1, 0, dr, 0);
        assertEquals(0, won, 1e-300);
        assertArrayEquals(new double[] {0, 0}, dr, 1e-300);
        double lost = RankingLoss.loss(new double[] {-1000, 1000}, 0, new int[] {0}, new int[] {1}, null, 0, 1, 0, dr, 0);
        assertEquals(2000, lost, 1e-9);
        assertArrayEquals(new double[] {-1, 1}, dr, 1e-15);
    }

    @Test
    void statsCountStrictWinsAndMeanMarginAndMerge() {
        double[] r = {1, 0, 1, 3};
        // 0 > 1 right (gap 1), 2 > 0 a tie (wrong, gap 0), 1 > 3 wrong (gap -3)
        RankingLoss.Stats s = RankingLoss.stats(r, 0, new int[] {0, 2, 1}, new int[] {1, 0, 3}, 0, 3);
        assertEquals(1.0 / 3, s.accuracy(), 1e-15);
        assertEquals(-2.0 / 3, s.meanMargin(), 1e-15);
        RankingLoss.Stats t = s.plus(RankingLoss.stats(r, 0, new int[] {3}, new int[] {1}, 0, 1));
        assertEquals(new RankingLoss.Stats(4, 2, 1), t);
        assertTrue(Double.isNaN(RankingLoss.Stats.ZERO.accuracy()));
    }
}
