package rlhf.bestofn;

import java.util.Arrays;
import java.util.Comparator;

/**
 * The arithmetic of best-of-n: which sample wins, what the best of k samples is worth in
 * expectation, and how far (in KL) the best-of-n policy may move from the sampling policy.
 * Pure functions on one prompt's n samples.
 */
public final class Frontier {

    private Frontier() {
    }

    /**
     * The bound log n - (n-1)/n on KL(best-of-n || policy), in nats. It is exact when no two
     * samples tie (a continuous score), and an upper bound otherwise.
     */
    public static double klBound(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("n = " + n + ", expected >= 1");
        }
        return Math.log(n) - (n - 1.0) / n;
    }

    /** The index of the highest score, the first one among ties; NaN never wins. */
    public static int best(double[] scores) {
        int b = 0;
        for (int i = 1; i < scores.length; i++) {
            if (scores[i] > scores[b] || Double.isNaN(scores[b]) && !Double.isNaN(scores[i])) {
                b = i;
            }
        }
        return b;
    }

    /**
     * The expected {@code values} of the winner ({@link #best} by {@code scores}) of k samples drawn
     * without replacement from these n: an unbiased estimate of best-of-k from one draw of n. With
     * the samples ordered by score (ties: the later index first, so that the earlier wins as in
     * {@link #best}), the one at position p (0-based) wins a k-subset exactly when the other k-1 come
     * from the p before it: C(p, k-1) of the C(n, k) subsets.
     */
    public static double expectedBestOfK(double[] scores, double[] values, int k) {
        return expectedBestOfK(rankOrder(scores), values, k);
    }

    /**
     * The samples ordered for {@link #expectedBestOfK}: by score, ties the later index first;
     * computed once per prompt and shared by every k and every value (score, gold).
     */
    public static int[] rankOrder(double[] scores) {
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> rank(scores[i])).thenComparing(i -> -i));
        int[] out = new int[order.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = order[i];
        }
        return out;
    }

    /** {@link #expectedBestOfK} with the samples already in {@link #rankOrder}. */
    public static double expectedBestOfK(int[] order, double[] values, int k) {
        int n = order.length;
        if (k < 1 || k > n || values.length != n) {
            throw new IllegalArgumentException("k = " + k + " of " + n + " samples (" + values.length + " values)");
        }
        double sum = 0;
        double choose = 1; // C(p, k-1), from p = k-1 on
        for (int p = k - 1; p < n; p++) {
            if (p > k - 1) {
                choose = choose * p / (p - k + 1);
            }
            sum += choose * values[order[p]];
        }
        return sum / binomial(n, k);
    }

    /** NaN sorts below every score (it never wins). */
    private static double rank(double score) {
        return Double.isNaN(score) ? Double.NEGATIVE_INFINITY : score;
    }

    static double binomial(int n, int k) {
        double c = 1;
        for (int i = 1; i <= k; i++) {
            c = c * (n - k + i) / i;
        }
        return c;
    }
}
