package rlhf.dpo;

import java.io.Serializable;
import java.util.Locale;

import rlhf.model.Losses;

/**
 * The loss of one preference pair as a function of the policy's log-ratio margin over the
 * reference model (Rafailov et al. 2023; Azar et al. 2023 for IPO):
 *
 * <pre>
 * Δ        = (log π(y_w) - log π_ref(y_w)) - (log π(y_l) - log π_ref(y_l))     y_w preferred, y_l not
 * sigmoid  : L = -(1-ε) log σ(βΔ) - ε log σ(-βΔ)      ε = label smoothing (conservative DPO; 0: DPO)
 * ipo      : L = (Δ - 1/(2β))²
 * </pre>
 *
 * <p>The sigmoid loss is the Bradley-Terry loss of the implicit reward β·log π/π_ref, so its
 * optimum over pairs drawn with P(y_w ≻ y_l) = σ(r_w - r_l) is π ∝ π_ref·e^{r/β}; with ε > 0 the
 * labels are taken to be flipped with probability ε, which bounds the gradient when pairs are noisy.
 * IPO regresses Δ onto 1/(2β), so a pair preferred 3 times in 4 settles at Δ = 1/(4β) instead of
 * growing without bound on deterministic preferences.
 */
public final class PreferenceLoss implements Serializable {

    private static final long serialVersionUID = 1L;

    /** Which loss. */
    public enum Kind { SIGMOID, IPO }

    private final Kind kind;
    private final double beta;
    private final double labelSmoothing;

    /**
     * @param beta           β &gt; 0: the strength of the pull towards the reference (smaller: further away)
     * @param labelSmoothing ε in [0, 0.5): the probability a label is taken to be wrong (sigmoid only)
     */
    public PreferenceLoss(Kind kind, double beta, double labelSmoothing) {
        if (!(beta > 0) || Double.isInfinite(beta)) {
            throw new IllegalArgumentException("beta must be > 0 and finite, found " + beta);
        }
        if (!(labelSmoothing >= 0 && labelSmoothing < 0.5)) {
            throw new IllegalArgumentException("label smoothing must be in [0, 0.5), found " + labelSmoothing);
        }
        if (kind == Kind.IPO && labelSmoothing != 0) {
            throw new IllegalArgumentException("label smoothing is a term of the sigmoid loss; IPO has none, found "
                    + labelSmoothing);
        }
        this.kind = kind;
        this.beta = beta;
        this.labelSmoothing = labelSmoothing;
    }

    public Kind kind() {
        return kind;
    }

    public double beta() {
        return beta;
    }

    /** The loss of a pair whose log-ratio margin is {@code delta}; finite for any finite delta. */
    public double loss(double delta) {
        if (kind == Kind.IPO) {
            double d = delta - 1 / (2 * beta);
            return d * d;
        }
        double h = beta * delta;
        return (1 - labelSmoothing) * Losses.softplus(-h) + labelSmoothing * Losses.softplus(h);
    }

    /** d loss / d delta. */
    public double gradient(double delta) {
        if (kind == Kind.IPO) {
            return 2 * (delta - 1 / (2 * beta));
        }
        double h = beta * delta;
        return beta * (-(1 - labelSmoothing) * Losses.sigmoid(-h) + labelSmoothing * Losses.sigmoid(h));
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s(beta=%s%s)", kind.name().toLowerCase(Locale.ROOT), beta,
                labelSmoothing > 0 ? ", label_smoothing=" + labelSmoothing : "");
    }
}
