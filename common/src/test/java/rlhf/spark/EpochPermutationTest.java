package rlhf.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class EpochPermutationTest {

    @Test
    void isABijectionOfZeroToNForOddAndPowerOfTwoSizes() {
        for (int n : new int[] {1, 2, 3, 5, 64, 103, 1000, 4097}) {
            EpochPermutation p = new EpochPermutation(n, 42, 3);
            boolean[] seen = new boolean[n];
            for (int i = 0; i < n; i++) {
                int pos = (int) p.position(i);
                assertTrue(pos >= 0 && pos < n, "n=" + n + " i=" + i + " -> " + pos);
                assertFalse(seen[pos], "n=" + n + ": position " + pos + " hit twice");
                seen[pos] = true;
            }
        }
    }

    @Test
    void dependsOnSeedAndEpochAndShufflesWell() {
        int n = 1000;
        EpochPermutation a = new EpochPermutation(n, 42, 0);
        EpochPermutation b = new EpochPermutation(n, 42, 1);
        EpochPermutation c = new EpochPermutation(n, 43, 0);
        int sameAB = 0;
        int sameAC = 0;
        int fixed = 0;
        long firstHalfSum = 0;
        for (int i = 0; i < n; i++) {
            sameAB += a.position(i) == b.position(i) ? 1 : 0;
            sameAC += a.position(i) == c.position(i) ? 1 : 0;
            fixed += a.position(i) == i ? 1 : 0;
            firstHalfSum += i < n / 2 ? a.position(i) : 0;
        }
        // A random permutation agrees with another on ~1 element; allow a few.
        assertTrue(sameAB < 10 && sameAC < 10 && fixed < 10, sameAB + " " + sameAC + " " + fixed);
        // Mean position of the first half ~ n/2 (std ~ 9 for 500 draws): not a near-identity order.
        assertEquals(n / 2.0, firstHalfSum / 500.0, 60);
        assertNotEquals(a.position(0), new EpochPermutation(n, 42, 2).position(0) + n);
    }

    @Test
    void indexInvertsPositionForEveryElement() {
        for (long n : new long[] {1, 2, 3, 5, 64, 103, 1000, 4097, 2_000_003}) {
            EpochPermutation p = new EpochPermutation(n, 7, 2);
            long stride = Math.max(1, n / 5000);
            for (long i = 0; i < n; i += stride) {
                assertEquals(i, p.index(p.position(i)), "n=" + n + " i=" + i);
            }
            assertEquals(n - 1, p.index(p.position(n - 1)), "n=" + n);
        }
    }
}
