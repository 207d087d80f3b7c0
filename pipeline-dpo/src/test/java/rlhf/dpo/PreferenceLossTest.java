package rlhf.dpo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The pair losses against values worked out by hand, and their derivatives against finite differences. */
class PreferenceLossTest {

    @Test
    void sigmoidLossIsLogTwoAtTheReferenceAndFallsWithTheMargin() {
        PreferenceLoss dpo = new PreferenceLoss(PreferenceLoss.Kind.SIGMOID, 0.1, 0);
        assertEquals(Math.log(2), dpo.loss(0), 1e-15, "policy = reference: -log sigmoid(0)");
        assertEquals(-0.1 * 0.5, dpo.gradient(0), 1e-15, "d/dΔ -log σ(βΔ) = -β σ(-βΔ) = -β/2 at 0");
        // βΔ = 0.1 * 20 = 2: -log σ(2) = log(1 + e^-2)
        assertEquals(Math.log(1 + Math.exp(-2)), dpo.loss(20), 1e-15);
        assertEquals(Math.log(1 + Math.exp(2)), dpo.loss(-20), 1e-15);
        assertTrue(dpo.loss(1e6) >= 0 && dpo.loss(1e6) < 1e-300 + 1e-12, "no overflow far out");
        assertEquals(1e5, dpo.loss(-1e6), 1e-6, "-log σ(-1e5) = 1e5");
    }

    @Test
    void labelSmoothingMixesTheFlippedLabel() {
        // β = 0.5, Δ = 2, ε = 0.1: 0.9·log(1 + e^-1) + 0.1·log(1 + e^1)
        PreferenceLoss cdpo = new PreferenceLoss(PreferenceLoss.Kind.SIGMOID, 0.5, 0.1);
        double expected = 0.9 * 0.31326168751822286 + 0.1 * 1.3132616875182228;
        assertEquals(expected, cdpo.loss(2), 1e-15);
        // its minimum is where σ(βΔ) = 1 - ε: Δ = logit(0.9)/β
        double best = Math.log(0.9 / 0.1) / 0.5;
        assertEquals(0, cdpo.gradient(best), 1e-12, "conservative DPO stops at σ(βΔ) = 1 - ε");
    }

    @Test
    void ipoRegressesTheMarginOntoOneOverTwoBeta() {
        PreferenceLoss ipo = new PreferenceLoss(PreferenceLoss.Kind.IPO, 0.5, 0);
        assertEquals(1, ipo.loss(0), 1e-15, "(0 - 1/(2·0.5))²");
        assertEquals(0, ipo.loss(1), 1e-15);
        assertEquals(4, ipo.loss(3), 1e-15);
        assertEquals(-2, ipo.gradient(0), 1e-15);
    }

    @Test
    void gradientsMatchCentralDifferences() {
        PreferenceLoss[] losses = {new PreferenceLoss(PreferenceLoss.Kind.SIGMOID, 0.1, 0),
                new PreferenceLoss(PreferenceLoss.Kind.SIGMOID, 2, 0.2), new PreferenceLoss(PreferenceLoss.Kind.IPO, 0.3, 0)};
        for (PreferenceLoss l : losses) {
            for (double d : new double[] {-7, -1.3, 0, 0.4, 2.5, 11}) {
                double h = 1e-5;
                double fd = (l.loss(d + h) - l.loss(d - h)) / (2 * h);
                assertEquals(fd, l.gradient(d), 1e-8 * (1 + Math.abs(fd)), l + " at Δ = " + d);
            }
        }
    }

    @Test
    void badSettingsAreRefusedWithTheValue() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new PreferenceLoss(PreferenceLoss.Kind.SIGMOID, 0, 0));
        assertTrue(e.getMessage().contains("beta must be > 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new PreferenceLoss(PreferenceLoss.Kind.SIGMOID, 0.1, 0.5));
        assertTrue(e.getMessage().contains("[0, 0.5)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new PreferenceLoss(PreferenceLoss.Kind.IPO, 0.1, 0.1));
        assertTrue(e.getMessage().contains("IPO has none"), e.getMessage());
    }
}
