package rlhf.reward;

import java.io.Serializable;

import rlhf.model.Losses;

/**
 * Pairwise ranking loss of the reward model for one prompt group (InstructGPT, Bradley-Terry).
 *
 * <pre>
 * r (K)        scalar rewards of the group's K answers, at rOff
 * pairs (P)    better[p], worse[p] in 0..K-1, margin[p] (null = all 0), at pOff
 * loss       = 1/P Σ_p softplus(-(r_b - r_w - m_p))              ( = -log σ(r_b - r_w - m_p) )
 *            + c · 1/P Σ_p (r_b + r_w)²                            (centering, c = center)
 * dr (K)    += d loss / d r
 * </pre>
 *
 * <p>The gradient is taken per answer, not per pair, so that each answer of a group is forwarded
 * (and backpropagated) once even when it appears in several of the K·(K-1)/2 pairs.
 *
 * <p>Centering follows TRL's {@code center_rewards_coefficient}: c times the mean over pairs of
 * (r_chosen + r_rejected)². It pulls the rewards towards zero mean without changing the ranking
 * loss, so that rewards stay comparable across runs; c = 0 switches it off. An answer appearing
 * in several pairs is counted once per pair, exactly as TRL counts it.
 *
 * <p>The loss of one group is the mean over its pairs (each prompt weighs the same whatever its K,
 * as in InstructGPT); a batch's loss is the mean over groups, which the caller forms by dividing
 * the summed losses and gradients by the number of groups.
 */
public final class RankingLoss {

    private RankingLoss() {
    }

    /**
     * Returns the group's loss and, when {@code dr} is not null, accumulates d loss / d r into
     * {@code dr[drOff .. drOff+K)}. Stable for any reward gap (no overflow of exp).
     */
    public static double loss(double[] r, int rOff, int[] better, int[] worse, double[] margin, int pOff, int P,
                              double center, double[] dr, int drOff) {
        if (P <= 0) {
            throw new IllegalArgumentException("a ranking group needs at least one pair, found " + P);
        }
        double inv = 1.0 / P;
        double sumPair = 0;
        double sumCenter = 0;
        for (int p = pOff; p < pOff + P; p++) {
            int b = better[p];
            int w = worse[p];
            double rb = r[rOff + b];
            double rw = r[rOff + w];
            double x = rb - rw - (margin == null ? 0 : margin[p]);
            double s = rb + rw;
            sumPair += Losses.softplus(-x);
            sumCenter += s * s;
            if (dr != null) {
                double g = Losses.sigmoid(-x) * inv;              // d softplus(-x) / dx = -σ(-x)
                double gc = 2 * center * s * inv;
                dr[drOff + b] += gc - g;
                dr[drOff + w] += gc + g;
            }
        }
        return (sumPair + center * sumCenter) * inv;
    }

    /** Pairwise accuracy and reward margin of a group's pairs (strict: a tie counts as wrong). */
    public static Stats stats(double[] r, int rOff, int[] better, int[] worse, int pOff, int P) {
        long correct = 0;
        double sumMargin = 0;
        for (int p = pOff; p < pOff + P; p++) {
            double gap = r[rOff + better[p]] - r[rOff + worse[p]];
            if (gap > 0) {
                correct++;
            }
            sumMargin += gap;
        }
        return new Stats(P, correct, sumMargin);
    }

    /**
     * Sums over pairs, merged across groups and partitions with {@link #plus} (in a fixed order
     * for reproducible logs). {@code meanMargin} is the observed reward gap r_better - r_worse
     * (TRL's "rewards/margins"), not the pair's required margin.
     */
    public record Stats(long pairs, long correct, double sumMargin) implements Serializable {

        public static final Stats ZERO = new Stats(0, 0, 0);

        public Stats plus(Stats o) {
            return new Stats(pairs + o.pairs, correct + o.correct, sumMargin + o.sumMargin);
        }

        /** Fraction of pairs with r_better > r_worse; NaN when there are no pairs. */
        public double accuracy() {
            return pairs == 0 ? Double.NaN : (double) correct / pairs;
        }

        /** Mean of r_better - r_worse; NaN when there are no pairs. */
        public double meanMargin() {
            return pairs == 0 ? Double.NaN : sumMargin / pairs;
        }
    }
}
