package rlhf.ppo;

import java.io.Serializable;

/**
 * The PPO objective (Schulman et al. 2017) per response token, with its gradients on what the
 * model's heads produce: dlogp and dentropy for the LM head, dvalues for the critic's score head.
 *
 * <pre>
 * policy:  ρ_t = exp(logp_t - logp_old_t)
 *          ℓ_t = max(-A_t ρ_t, -A_t clip(ρ_t, 1-ε, 1+ε))
 *          dℓ/dlogp = -A_t ρ_t where the unclipped term is the max, else 0
 * value:   ℓ_t = ½ max((V_t - R_t)², (clip(V_t, V_old-ε_v, V_old+ε_v) - R_t)²)
 *          dℓ/dV = V_t - R_t where the unclipped term is the max, else 0
 * entropy: ℓ_t = -c_H H_t    (a bonus: minimising the loss raises the entropy)
 * </pre>
 *
 * <p><b>Normalisation:</b> every term is a mean over all response tokens of the (global)
 * mini-batch, as TRL's {@code masked_mean} over the batch: long responses weigh in proportion to
 * their length. Since a mini-batch is spread over partitions, each kernel returns {@code scale}
 * times its sum and accumulates {@code scale} times its gradient; the caller passes
 * {@code scale = coefficient / (response tokens of the whole mini-batch)}, and the partitions'
 * sums add up to the mean. Gradients accumulate ({@code +=}); zeroing them is the caller's step.
 *
 * <p>Where both branches of a max are equal (ρ inside the clip range) the unclipped gradient is
 * taken, which is also the clipped one there. Sequences are given by {@code offsets[b]},
 * {@code lengths[b]} into per-token arrays that all share that layout.
 */
public final class PpoLoss {

    private PpoLoss() {
    }

    /** Clipped policy loss; returns scale·Σ ℓ_t, adds scale·dℓ_t/dlogp_t to dlogp, fills stats. */
    public static double policy(double[] logp, double[] logpOld, double[] advantages, int[] offsets, int[] lengths,
                                int B, double clipRange, double scale, double[] dlogp, Stats stats) {
        if (!(clipRange > 0)) {
            throw new IllegalArgumentException("cliprange must be > 0, found " + clipRange);
        }
        double lo = 1 - clipRange;
        double hi = 1 + clipRange;
        double sum = 0;
        for (int b = 0; b < B; b++) {
            for (int t = offsets[b]; t < offsets[b] + lengths[b]; t++) {
                double logRatio = logp[t] - logpOld[t];
                double ratio = Math.exp(logRatio);
                double a = advantages[t];
                double unclipped = -a * ratio;
                double clipped = -a * Math.max(lo, Math.min(hi, ratio));
                if (unclipped >= clipped) {
                    sum += unclipped;
                    dlogp[t] += scale * unclipped;       // d(-A e^{logp - logp_old}) / dlogp
                } else {
                    sum += clipped;                      // ρ outside the range: clip is constant
                    stats.policyClipped++;
                }
                stats.policyTokens++;
                stats.sumApproxKl += Math.expm1(logRatio) - logRatio;
                stats.sumHalfSqLogRatio += 0.5 * logRatio * logRatio;
            }
        }
        return scale * sum;
    }

    /** Clipped value loss; returns scale·Σ ℓ_t, adds scale·dℓ_t/dV_t to dvalues, fills stats. */
    public static double value(double[] values, double[] valuesOld, double[] returns, int[] offsets, int[] lengths,
                               int B, double clipRangeValue, double scale, double[] dvalues, Stats stats) {
        if (!(clipRangeValue > 0)) {
            throw new IllegalArgumentException("cliprange_value must be > 0, found " + clipRangeValue);
        }
        double sum = 0;
        for (int b = 0; b < B; b++) {
            for (int t = offsets[b]; t < offsets[b] + lengths[b]; t++) {
                double v = values[t];
                double vo = valuesOld[t];
                double vc = Math.max(vo - clipRangeValue, Math.min(vo + clipRangeValue, v));
                double e = v - returns[t];
                double ec = vc - returns[t];
                if (e * e >= ec * ec) {
                    sum += 0.5 * e * e;
                    dvalues[t] += scale * e;
                } else {
                    sum += 0.5 * ec * ec;                // V outside the range: clip is constant
                    stats.valueClipped++;
                }
                stats.valueTokens++;
            }
        }
        return scale * sum;
    }

    /** Entropy bonus -c_H·H_t; returns -scale·c_H·Σ H_t, adds -scale·c_H to dentropy per token. */
    public static double entropyBonus(double[] entropy, int[] offsets, int[] lengths, int B, double coef,
                                      double scale, double[] dentropy) {
        double sum = 0;
        double g = -coef * scale;
        for (int b = 0; b < B; b++) {
            for (int t = offsets[b]; t < offsets[b] + lengths[b]; t++) {
                sum += entropy[t];
                dentropy[t] += g;
            }
        }
        return g * sum;
    }

    /**
     * Token counts and sums behind the logged diagnostics, merged across partitions with
     * {@link #merge}. Approximate KL(π_old ‖ π) is logged two ways: {@link #approxKl()} the k3 form
     * mean((ρ - 1) - log ρ), unbiased under rollouts from π_old and never negative (the one to
     * watch for early stopping), and {@link #approxKlHalfSq()} 0.5·mean((logp - logp_old)²), which
     * is what TRL logs as "approxkl", for comparison with its runs. Clip fractions count tokens
     * where the clipped term is strictly larger (TRL's clipfrac).
     */
    public static final class Stats implements Serializable {
        long policyTokens;
        long policyClipped;
        double sumApproxKl;
        double sumHalfSqLogRatio;
        long valueTokens;
        long valueClipped;

        public Stats merge(Stats o) {
            policyTokens += o.policyTokens;
            policyClipped += o.policyClipped;
            sumApproxKl += o.sumApproxKl;
            sumHalfSqLogRatio += o.sumHalfSqLogRatio;
            valueTokens += o.valueTokens;
            valueClipped += o.valueClipped;
            return this;
        }

        public long policyTokens() {
            return policyTokens;
        }

        public double clipFraction() {
            return (double) policyClipped / policyTokens;
        }

        public double approxKl() {
            return sumApproxKl / policyTokens;
        }

        public double approxKlHalfSq() {
            return sumHalfSqLogRatio / policyTokens;
        }

        public double valueClipFraction() {
            return (double) valueClipped / valueTokens;
        }
    }
}
