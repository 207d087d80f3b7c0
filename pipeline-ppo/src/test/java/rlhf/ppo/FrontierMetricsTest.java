package rlhf.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

import rlhf.metrics.BestOfNFrontier;

/** An iteration read against the start policy's best-of-n frontier, by hand. */
class FrontierMetricsTest {

    @Test
    void scoreVsBestOfNIsTheScoreAboveTheFrontierAtTheSameKl() {
        BestOfNFrontier f = new BestOfNFrontier(new double[] {0, 0.2, 0.4}, new double[] {0.5, 1.0, 1.2}, null);
        Map<String, Double> m = new HashMap<>(Map.of("score_mean", 1.0, "kl", 0.1));
        PpoJob.addFrontierMetrics(m, f);
        assertEquals(0.75, m.get(PpoJob.BON_SCORE_AT_KL), 1e-12); // halfway from (0, 0.5) to (0.2, 1.0)
        assertEquals(0.25, m.get(PpoJob.SCORE_VS_BON), 1e-12);
        m = new HashMap<>(Map.of("score_mean", 0.9, "kl", 1.5)); // more KL than best-of-3 spends
        PpoJob.addFrontierMetrics(m, f);
        assertEquals(1.2, m.get(PpoJob.BON_SCORE_AT_KL), 1e-12);
        assertEquals(-0.3, m.get(PpoJob.SCORE_VS_BON), 1e-12);
        assertEquals(null, m.get(PpoJob.GOLD_VS_BON), "no gold in the report, no gold comparison");
    }

    @Test
    void goldVsBestOfNIsTheGoldAboveSelectionsAtTheSameScore() {
        BestOfNFrontier f = new BestOfNFrontier(new double[] {0, 0.2, 0.4}, new double[] {0.5, 1.0, 1.2},
                new double[] {0.3, 0.5, 0.6});
        Map<String, Double> m = new HashMap<>(Map.of("score_mean", 1.1, "kl", 0.3, "gold_mean", 0.35));
        PpoJob.addFrontierMetrics(m, f);
        assertEquals(0.55, m.get(PpoJob.BON_GOLD_AT_SCORE), 1e-12); // halfway from (1.0, 0.5) to (1.2, 0.6)
        assertEquals(-0.2, m.get(PpoJob.GOLD_VS_BON), 1e-12);
        assertEquals(0.3, f.goldAtScore(0.0), 1e-12);
        assertEquals(0.6, f.goldAtScore(9.0), 1e-12);
    }
}
