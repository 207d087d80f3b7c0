package rlhf.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MistakeModelTest {

    private static final MistakeModel.Rates R = MistakeModel.DEFAULT;

    private static final List<Problem> HELDOUT =
            DemoData.generate(new DemoData.Config(11, 0, 0, 0, 0, 0, 4, 0, 3000, 0.2, 0.5, R)).heldoutPrompts();

    /** A fixed sample of problems from the default prompt distribution (held-out split). */
    private static List<Problem> heldout() {
        return HELDOUT;
    }

    @Test
    void imitatingTheDemonstrationsLandsInTheIntendedBandWithAtLeast25PointsOfHeadroom() {
        List<Problem> ps = heldout();
        double imitation = MistakeModel.imitationAccuracy(ps, R);
        double greedy = MistakeModel.imitationGreedyAccuracy(ps, R);
        double best = MistakeModel.bestReachableAccuracy(ps, R);
        // Analytically 0.8 * (0.5 * 0.85 + 0.5 * 0.3) = 0.46 with half the prompts hard.
        assertTrue(imitation > 0.40 && imitation < 0.60, "sampled imitation accuracy " + imitation);
        assertEquals(0.46, imitation, 0.02, "sampled imitation accuracy vs the analytic 0.46 (tolerance 0.02)");
        // The greedy imitator answers every easy prompt right and every hard prompt with the mistake.
        assertEquals(0.5, greedy, 0.03, "greedy imitation accuracy");
        assertEquals(1.0, best, 0.0, "every right answer is among the demonstrated responses");
        assertTrue(best - imitation >= 0.25, "headroom " + (best - imitation));
    }

    @Test
    void onHardPromptsTheDemonstratorsAreWrongMoreOftenThanRightButRightOftenEnoughToBeSampled() {
        for (Problem p : heldout().subList(0, 600)) {
            double right = 0, main = 0;
            for (MistakeModel.Weighted w : MistakeModel.distribution(p, R)) {
                double s = Oracle.grade(p, w.response());
                if (s == Oracle.EXACT) right += w.p();
                if (w.response().equals(p.mistakes().get(0))) main += w.p();
            }
            if (p.hard()) {
                assertTrue(main > right, () -> p.prompt() + ": systematic mistake should dominate");
                assertTrue(right >= 0.2, () -> p.prompt() + ": right answer probability " + p);
            } else {
                assertTrue(right > 0.6, () -> p.prompt() + ": easy prompt right with " + p);
            }
        }
    }

    @Test
    void distributionsSumToOneHaveDistinctResponsesAndWellFormedWrongMistakes() {
        for (Problem p : heldout().subList(0, 1000)) {
            List<MistakeModel.Weighted> d = MistakeModel.distribution(p, R);
            double total = 0;
            Set<String> seen = new HashSet<>();
            for (MistakeModel.Weighted w : d) {
                total += w.p();
                assertTrue(seen.add(w.response()), () -> "duplicate response for " + p.prompt());
            }
            assertEquals(1.0, total, 1e-9, p.prompt());
            assertFalse(p.mistakes().isEmpty(), p.prompt());
            for (String m : p.mistakes()) {
                assertEquals(Oracle.WELL_FORMED_WRONG, Oracle.grade(p, m), 0.0, p.prompt() + " -> " + m);
            }
            assertEquals(p, new Oracle().problem(p.prompt()), "rendered prompt parses back to its problem");
        }
    }

    @Test
    void sampledDemonstrationsMatchTheConfiguredRatesWithinTolerance() {
        SplittableRandom rng = new SplittableRandom(3);
        List<Problem> ps = heldout();
        Map<String, int[]> c = new HashMap<>(); // counter name -> {hits, trials}
        for (int rep = 0; rep < 4; rep++) {
            for (Problem p : ps) {
                String s = MistakeModel.sample(p, R, rng);
                String bare = Oracle.unwrap(s.strip()) != null ? Oracle.unwrap(s.strip()) : s;
                count(c, "sloppy", !bare.equals(s));
                String kind = p.hard() ? "hard" : "easy";
                count(c, kind + "Correct", bare.equals(p.answer()));
                if (p.hard()) count(c, "hardMain", bare.equals(p.mistakes().get(0)));
            }
        }
        assertRate(c, "sloppy", R.sloppyFormat());
        assertRate(c, "easyCorrect", R.easyCorrect());
        assertRate(c, "hardCorrect", R.hardCorrect());
        assertRate(c, "hardMain", R.hardMainMistake());
        double hardShare = (double) c.get("hardCorrect")[1] / (c.get("hardCorrect")[1] + c.get("easyCorrect")[1]);
        assertEquals(0.5, hardShare, 0.02, "share of hard prompts vs hardFraction 0.5");
    }

    private static void count(Map<String, int[]> c, String key, boolean hit) {
        int[] v = c.computeIfAbsent(key, k -> new int[2]);
        if (hit) v[0]++;
        v[1]++;
    }

    /** Within 4 standard errors of the configured rate. */
    private static void assertRate(Map<String, int[]> c, String key, double rate) {
        int[] v = c.get(key);
        double observed = (double) v[0] / v[1];
        double tol = 4 * Math.sqrt(rate * (1 - rate) / v[1]);
        assertEquals(rate, observed, tol, key + " rate over " + v[1] + " samples (tolerance 4 s.e. = " + tol + ")");
    }

    @Test
    void theKlRegularisedOptimumGains15PointsWithinAModestKlBudget() {
        List<Problem> ps = heldout();
        double imitation = MistakeModel.imitationAccuracy(ps, R);
        MistakeModel.Tilted none = MistakeModel.tilted(ps, R, 1e6);
        assertEquals(imitation, none.accuracy(), 1e-3, "beta -> infinity is the imitator");
        assertEquals(0.0, none.kl(), 1e-3);
        double previousKl = 0, previousAcc = 0;
        boolean found = false;
        for (double beta : new double[] {1.0, 0.5, 0.3, 0.2, 0.1, 0.05}) {
            MistakeModel.Tilted t = MistakeModel.tilted(ps, R, beta);
            assertTrue(t.kl() > previousKl && t.accuracy() > previousAcc, "monotone in beta: " + t);
            previousKl = t.kl();
            previousAcc = t.accuracy();
            if (t.accuracy() >= imitation + 0.15 && t.kl() < 0.5) found = true;
        }
        assertTrue(found, "no beta gains 15 points with KL < 0.5 nats");
    }

    @Test
    void invalidRatesAreRejectedWithTheirName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new MistakeModel.Rates(0.2, 1.5, 0.3, 0.6));
        assertTrue(e.getMessage().contains("easyCorrect"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new MistakeModel.Rates(0.2, 0.8, 0.5, 0.6));
    }
}
