package rlhf.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class KlControllerTest {

    @Test
    void adaptiveBetaFollowsHandComputedSequence() {
        // β0 = 0.2, target 6, horizon 10000, n = 256 rollouts: n / horizon = 0.0256
        KlController c = KlController.adaptive(0.2, 6, 10_000);
        c = c.update(12, 256);     // e = clip(1, ±0.2) = 0.2 -> ×1.00512
        assertEquals(0.201024, c.beta(), 1e-15);
        c = c.update(6, 256);      // e = 0 -> unchanged
        assertEquals(0.201024, c.beta(), 1e-15);
        c = c.update(3, 256);      // e = clip(-0.5) = -0.2 -> ×0.99488
        assertEquals(0.19999475712, c.beta(), 1e-15);
        c = c.update(6.6, 256);    // e = 0.1 -> ×1.00256
        assertEquals(0.19999475712 * 1.00256, c.beta(), 1e-15);
        assertEquals(KlController.adaptive(0.19999475712 * 1.00256, 6, 10_000), c);
    }

    @Test
    void fixedBetaNeverMoves() {
        KlController c = KlController.fixed(0.05);
        assertSame(c, c.update(100, 256));
        assertEquals(0.05, c.update(0, 1).beta(), 0);
    }

    @Test
    void invalidSettingsAndNonFiniteKlAreNamed() {
        var e = assertThrows(IllegalArgumentException.class, () -> KlController.adaptive(0.1, 0, 100));
        assertEquals("target KL must be > 0 for the adaptive controller, found 0.0", e.getMessage());
        var f = assertThrows(IllegalArgumentException.class, () -> KlController.adaptive(0.1, 6, 100).update(Double.NaN, 4));
        assertEquals("mean KL of the iteration is not finite: NaN", f.getMessage());
    }
}
