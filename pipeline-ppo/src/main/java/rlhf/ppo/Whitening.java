package rlhf.ppo;

import java.io.Serializable;

/**
 * Whitening of per-token values (advantages, rewards) over the response tokens of a whole batch,
 * when that batch is spread over partitions.
 *
 * <p>Each partition sums its tokens into {@link Moments} (sum, sum of squares, count); the driver
 * adds them up in partition order (so the result is reproducible) and sends mean and std back.
 * As TRL's {@code masked_whiten}: the variance is the unbiased one (n - 1), and
 *
 * <pre>
 * x := (x - mean) / sqrt(var + 1e-8)          (+ mean again when shiftMean is false)
 * </pre>
 *
 * The single-pass variance loses digits when |mean| ≫ std; in double that is harmless for
 * advantages and rewards (it would take |mean| / std near 1e6 to lose half the digits).
 */
public final class Whitening {

    /** Added to the variance before the square root, as TRL. */
    public static final double EPS = 1e-8;

    private Whitening() {
    }

    /** Sums over the tokens of B sequences at {@code offsets[b]} of {@code lengths[b]} tokens. */
    public static Moments moments(double[] x, int[] offsets, int[] lengths, int B) {
        double sum = 0;
        double sumSq = 0;
        long count = 0;
        for (int b = 0; b < B; b++) {
            for (int t = offsets[b]; t < offsets[b] + lengths[b]; t++) {
                sum += x[t];
                sumSq += x[t] * x[t];
            }
            count += lengths[b];
        }
        return new Moments(sum, sumSq, count);
    }

    /**
     * In place over the sequences' tokens, with the batch's merged moments. shiftMean = false adds
     * the mean back after scaling (TRL does so when it whitens rewards).
     */
    public static void whiten(double[] x, int[] offsets, int[] lengths, int B, Moments m, boolean shiftMean) {
        double mean = m.mean();
        double inv = 1 / Math.sqrt(m.variance() + EPS);
        double shift = shiftMean ? 0 : mean;
        for (int b = 0; b < B; b++) {
            for (int t = offsets[b]; t < offsets[b] + lengths[b]; t++) {
                x[t] = (x[t] - mean) * inv + shift;
            }
        }
    }

    /** Aggregate of a set of values; {@link #plus} merges partitions. */
    public record Moments(double sum, double sumSq, long count) implements Serializable {

        public static final Moments ZERO = new Moments(0, 0, 0);

        public Moments plus(Moments o) {
            return new Moments(sum + o.sum, sumSq + o.sumSq, count + o.count);
        }

        public double mean() {
            if (count == 0) {
                throw new IllegalStateException("cannot whiten: the batch has no response tokens");
            }
            return sum / count;
        }

        /** Unbiased variance (divides by count - 1); 0 for a single value; never negative. */
        public double variance() {
            if (count < 2) {
                return 0;
            }
            double mean = mean();
            return Math.max(0, (sumSq - sum * mean) / (count - 1));
        }
    }
}
