package rlhf.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import rlhf.metrics.BestOfNFrontier;

/** The watch's warnings on made-up runs whose verdict is plain by eye. */
class PpoWatchTest {

    static Map<String, Double> it(double score, double kl, Double gold) {
        Map<String, Double> m = new HashMap<>(Map.of("score_mean", score, "score_std", 1.0, "kl", kl));
        if (gold != null) {
            m.put("gold_mean", gold);
        }
        return m;
    }

    /** Feeds the run; returns the iterations (1-based) at which a warning started. */
    static List<Integer> warnings(PpoWatch w, List<Map<String, Double>> run, String flag, List<String> texts) {
        List<Integer> at = new ArrayList<>();
        for (int i = 0; i < run.size(); i++) {
            List<String> ws = w.observe(i + 1, run.get(i));
            texts.addAll(ws);
            if (!ws.isEmpty()) {
                at.add(i + 1);
            }
            assertEquals(i + 1 >= 10, run.get(i).containsKey(flag), "flags from a full window on, iteration " + (i + 1));
        }
        return at;
    }

    @Test
    void aFlatRunWithHeadroomWarnsOnceAndARisingOneNever() {
        List<Map<String, Double>> flat = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            flat.add(it(0.10 + 0.0001 * i, 0.12, null)); // the case: KL 0.12 after 60 iterations, score flat
        }
        List<String> texts = new ArrayList<>();
        // from iteration 23 on, 0.12 nats at this pace ends below half of best-of-4's 0.64 by iteration 60
        assertEquals(List.of(23), warnings(new PpoWatch(Algorithm.PPO, 10, 60, null), flat, PpoWatch.NOT_MOVING, texts));
        assertTrue(texts.get(0).contains("iterations 14-23: not moving") && texts.get(0).contains("optim.policy_lr")
                && texts.get(0).contains("at this pace about 0.31 by iteration 60"), texts.get(0));

        List<Map<String, Double>> rising = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            rising.add(it(0.05 * i, 0.04 * i, null));
        }
        assertEquals(List.of(), warnings(new PpoWatch(Algorithm.PPO, 10, 30, null), rising, PpoWatch.NOT_MOVING, new ArrayList<>()));
    }

    @Test
    void aPauseOnTheWayToTheBudgetIsNotStuck() {
        // 128 rollouts of a noisy reward model: KL and score climb, then stall for a window midway
        List<Map<String, Double>> steps = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            double t = i < 40 ? i : i < 55 ? 40 : i - 15;
            steps.add(it(0.008 * t, 0.008 * t, null));
        }
        assertEquals(List.of(), warnings(new PpoWatch(Algorithm.PPO, 10, 100, null), steps, PpoWatch.NOT_MOVING, new ArrayList<>()));
        // a run that spends 0.05 nats in 40 iterations is stuck from its first window on
        List<Map<String, Double>> slow = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            double t = i < 40 ? i : i < 55 ? 40 : i - 15;
            slow.add(it(0.001 * t, 0.00125 * t, null));
        }
        assertEquals(List.of(10), warnings(new PpoWatch(Algorithm.PPO, 10, 100, null), slow, PpoWatch.NOT_MOVING, new ArrayList<>()));
    }

    @Test
    void aPlateauAboveBestOfNIsConvergedNotStuckAndTheFrontierIsNamed() {
        BestOfNFrontier f = new BestOfNFrontier(new double[] {0, 0.19, 0.64}, new double[] {0.0, 0.3, 0.5}, null);
        List<Map<String, Double>> plateau = new ArrayList<>();
        List<Map<String, Double>> spent = new ArrayList<>();
        List<Map<String, Double>> stuck = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            plateau.add(it(0.8, 0.3, null));
            spent.add(it(0.2, 1.0, null)); // more KL than best-of-3 for less score: inefficient, not stuck
            stuck.add(it(0.2, 0.1, null)); // at this pace 0.2 nats by iteration 20
        }
        assertEquals(List.of(), warnings(new PpoWatch(Algorithm.PPO, 10, 20, f), plateau, PpoWatch.NOT_MOVING, new ArrayList<>()));
        assertEquals(List.of(), warnings(new PpoWatch(Algorithm.PPO, 10, 20, f), spent, PpoWatch.NOT_MOVING, new ArrayList<>()));
        List<String> texts = new ArrayList<>();
        assertEquals(List.of(10), warnings(new PpoWatch(Algorithm.PPO, 10, 20, f), stuck, PpoWatch.NOT_MOVING, texts));
        assertTrue(texts.get(0).contains("best-of-3 of the start policy scores 0.5000"), texts.get(0));
    }

    @Test
    void lessGoldThanBestOfNAtTheSameScoreIsGamingEvenWhenGoldIsFlat() {
        java.util.Random r = new java.util.Random(5);
        List<Map<String, Double>> run = new ArrayList<>();
        List<Map<String, Double>> honest = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            // gold flat at 0.33 while best-of-n has 0.58 at the score PPO reaches: PPO's score is not real
            Map<String, Double> m = it(0.6, 1.0, 0.33 + 0.05 * r.nextGaussian());
            m.put(PpoJob.GOLD_VS_BON, m.get("gold_mean") - 0.58);
            run.add(m);
            Map<String, Double> h = it(0.6, 1.0, 0.57 + 0.05 * r.nextGaussian());
            h.put(PpoJob.GOLD_VS_BON, h.get("gold_mean") - 0.58);
            honest.add(h);
        }
        List<String> texts = new ArrayList<>();
        assertEquals(List.of(10), warnings(new PpoWatch(Algorithm.PPO, 10, 60, null), run, PpoWatch.GAMING, texts), texts.toString());
        assertTrue(texts.get(0).contains("below the gold best-of-n's choices have"), texts.get(0));
        assertEquals(List.of(), warnings(new PpoWatch(Algorithm.PPO, 10, 30, null), honest, PpoWatch.GAMING, new ArrayList<>()));
    }

    @Test
    void noisyGoldWithoutATrendIsNotGaming() {
        java.util.Random r = new java.util.Random(3);
        List<Map<String, Double>> run = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            // 64 rollouts of a 40% task: gold_mean jitters by about 0.06 an iteration
            run.add(it(0.02 * i, 0.02 * i, 0.4 + 0.06 * r.nextGaussian()));
        }
        assertEquals(List.of(), warnings(new PpoWatch(Algorithm.PPO, 10, 60, null), run, PpoWatch.GAMING, new ArrayList<>()));
    }

    @Test
    void aFlickeringConditionWarnsOnceAWindow() {
        List<Map<String, Double>> run = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            run.add(it(i % 2 == 0 ? 0.1 : 0.1 + 0.06 * (i % 4), 0.12, null)); // flat, with the odd jump
        }
        List<Integer> at = warnings(new PpoWatch(Algorithm.PPO, 10, 40, null), run, PpoWatch.NOT_MOVING, new ArrayList<>());
        for (int i = 1; i < at.size(); i++) {
            assertTrue(at.get(i) - at.get(i - 1) >= 10, at.toString());
        }
        assertTrue(!at.isEmpty() && at.size() <= 4, at.toString());
    }

    @Test
    void scoreUpWhileGoldFallsIsCalledGamingAgainAfterItStopped() {
        List<Map<String, Double>> run = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            run.add(it(0.1 * i, 0.05 * i, 0.5 + 0.01 * i)); // both rise: fine
        }
        for (int i = 10; i < 20; i++) {
            run.add(it(0.1 * i, 0.05 * i, 0.6 - 0.02 * (i - 10))); // score rises, gold falls
        }
        for (int i = 20; i < 32; i++) {
            run.add(it(2.0, 1.0, 0.4)); // flat again: the condition clears
        }
        for (int i = 32; i < 45; i++) {
            run.add(it(2.0 + 0.1 * (i - 31), 1.0 + 0.05 * (i - 31), 0.4 - 0.02 * (i - 31)));
        }
        List<String> texts = new ArrayList<>();
        List<Integer> at = warnings(new PpoWatch(Algorithm.PPO, 10, 60, null), run, PpoWatch.GAMING, texts);
        assertEquals(2, at.size(), "once per episode: " + at + " " + texts);
        assertTrue(at.get(0) > 10 && at.get(0) <= 20 && at.get(1) > 32, at.toString());
        assertTrue(texts.stream().allMatch(t -> t.contains("gaming the reward model")), texts.toString());
        assertFalse(texts.stream().anyMatch(t -> t.contains("not moving")), texts.toString());
    }
}
