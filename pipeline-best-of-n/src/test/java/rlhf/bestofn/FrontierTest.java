package rlhf.bestofn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;

import org.junit.jupiter.api.Test;

class FrontierTest {

    @Test
    void klBoundIsLogNMinusNMinusOneOverN() {
        // log n - (n-1)/n, by hand: n=2: 0.693147 - 0.5; n=4: 1.386294 - 0.75; n=8: 2.079442 - 0.875
        assertEquals(0.0, Frontier.klBound(1), 0);
        assertEquals(0.1931472, Frontier.klBound(2), 1e-7);
        assertEquals(0.6362944, Frontier.klBound(4), 1e-7);
        assertEquals(1.2044415, Frontier.klBound(8), 1e-7);
        assertThrows(IllegalArgumentException.class, () -> Frontier.klBound(0));
    }

    @Test
    void bestIsTheFirstHighestScore() {
        assertEquals(2, Frontier.best(new double[] {3, 1, 4, 2}));
        assertEquals(1, Frontier.best(new double[] {0, 5, 5, 1}));
        assertEquals(0, Frontier.best(new double[] {7}));
    }

    @Test
    void expectedBestOfKMatchesHandComputedCases() {
        double[] s = {3, 1, 4, 2};
        // k=1: the mean; k=2: pairs' maxima 3,4,3,4,2,4 -> 20/6; k=4: the maximum
        assertEquals(2.5, Frontier.expectedBestOfK(s, s, 1), 1e-12);
        assertEquals(20.0 / 6, Frontier.expectedBestOfK(s, s, 2), 1e-12);
        assertEquals(15.0 / 4, Frontier.expectedBestOfK(s, s, 3), 1e-12); // triples' maxima 4,3,4,4
        assertEquals(4.0, Frontier.expectedBestOfK(s, s, 4), 1e-12);
        // values other than the scores: the value of whichever sample wins
        double[] gold = {10, 20, 30, 40};
        assertEquals(30.0, Frontier.expectedBestOfK(s, gold, 4), 1e-12);
        // ties go to the earlier sample, as best() chooses: {a=1, b=1}: k=2 always picks a
        assertEquals(10.0, Frontier.expectedBestOfK(new double[] {1, 1}, new double[] {10, 20}, 2), 1e-12);
        assertEquals(15.0, Frontier.expectedBestOfK(new double[] {1, 1}, new double[] {10, 20}, 1), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Frontier.expectedBestOfK(s, s, 5));
    }

    /** Against enumeration of every k-subset, with many ties: the closed form and best() agree. */
    @Test
    void expectedBestOfKEqualsTheAverageOverAllSubsets() {
        Random r = new Random(7);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + r.nextInt(9);
            double[] scores = new double[n];
            double[] values = new double[n];
            for (int i = 0; i < n; i++) {
                scores[i] = r.nextInt(3); // ties on purpose
                values[i] = r.nextGaussian();
            }
            for (int k = 1; k <= n; k++) {
                double sum = 0;
                int count = 0;
                for (int mask = 0; mask < 1 << n; mask++) {
                    if (Integer.bitCount(mask) != k) {
                        continue;
                    }
                    int win = -1;
                    for (int i = 0; i < n; i++) {
                        if ((mask >> i & 1) == 1 && (win < 0 || scores[i] > scores[win])) {
                            win = i;
                        }
                    }
                    sum += values[win];
                    count++;
                }
                assertEquals(sum / count, Frontier.expectedBestOfK(scores, values, k), 1e-9, "n=" + n + " k=" + k);
            }
        }
    }
}
