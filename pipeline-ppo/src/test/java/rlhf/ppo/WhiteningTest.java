package rlhf.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class WhiteningTest {

    // two sequences [1, 2, 3] and [4] with a pad slot between: mean 2.5, unbiased var 5/3
    private static final double[] X = {1, 2, 3, -7, 4};
    private static final int[] OFF = {0, 4};
    private static final int[] LEN = {3, 1};

    @Test
    void momentsGiveMeanAndUnbiasedVariance() {
        Whitening.Moments m = Whitening.moments(X, OFF, LEN, 2);
        assertEquals(new Whitening.Moments(10, 30, 4), m);
        assertEquals(2.5, m.mean(), 0);
        assertEquals(5.0 / 3, m.variance(), 1e-15);
    }

    @Test
    void partitionMomentsMergeToTheWholeBatch() {
        Whitening.Moments a = Whitening.moments(X, new int[] {0}, new int[] {3}, 1);
        Whitening.Moments b = Whitening.moments(X, new int[] {4}, new int[] {1}, 1);
        assertEquals(Whitening.moments(X, OFF, LEN, 2), Whitening.Moments.ZERO.plus(a).plus(b));
    }

    @Test
    void whitenShiftsAndScalesOnlyTheTokens() {
        double s = Math.sqrt(5.0 / 3 + 1e-8);
        double[] x = X.clone();
        Whitening.whiten(x, OFF, LEN, 2, Whitening.moments(x, OFF, LEN, 2), true);
        assertArrayEquals(new double[] {-1.5 / s, -0.5 / s, 0.5 / s, -7, 1.5 / s}, x, 1e-15);

        double[] y = X.clone();
        Whitening.whiten(y, OFF, LEN, 2, Whitening.moments(y, OFF, LEN, 2), false);
        assertArrayEquals(new double[] {-1.5 / s + 2.5, -0.5 / s + 2.5, 0.5 / s + 2.5, -7, 1.5 / s + 2.5}, y, 1e-15);
    }

    @Test
    void singleValueWhitensToZeroAndNoTokensIsAnError() {
        double[] x = {5};
        Whitening.whiten(x, new int[] {0}, new int[] {1}, 1, Whitening.moments(x, new int[] {0}, new int[] {1}, 1), true);
        assertEquals(0, x[0], 0);
        var e = assertThrows(IllegalStateException.class, () -> Whitening.Moments.ZERO.mean());
        assertEquals("cannot whiten: the batch has no response tokens", e.getMessage());
    }
}
