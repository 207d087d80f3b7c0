package rlhf.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import rlhf.tensor.GradCheck;

class LossesTest {

    @Test
    void tokenCrossEntropySumsNegativeLogpOverTargetsOnly() {
        float[] logp = {-1f, -2f, -3f, -4f};
        int[] targets = {5, -1, 0, 7};
        assertEquals(8.0, Losses.tokenCrossEntropySum(logp, targets, 4), 1e-9);
        assertEquals(3, Losses.countTargets(targets, 4));
        float[] d = {1f, 1f, 1f, 1f};
        Losses.tokenCrossEntropyBackward(d, targets, 4, 0.5f);
        assertArrayEquals(new float[] {0.5f, 1f, 0.5f, 0.5f}, d, 0f);
    }

    @Test
    void pairwiseRankingMatchesHandValueAndFiniteDifferences() {
        float[] c = {1f, 0f, 3f}, r = {0f, 0f, -2f};
        // -log sigmoid(1) = 0.3132617, -log sigmoid(0) = 0.6931472, -log sigmoid(5) = 0.0067153
        assertEquals(0.3132617 + 0.6931472 + 0.0067153, Losses.pairwiseRankingSum(c, r, 3), 1e-6);
        float[] dc = new float[3], dr = new float[3];
        Losses.pairwiseRankingBackward(c, r, 3, 2f, dc, dr);
        GradCheck.check("ranking dchosen (h 1e-2, rel 1e-3)", c, 0, 3, dc, 0, () -> 2 * Losses.pairwiseRankingSum(c, r, 3),
                1e-2f, 1e-3, 1e-5);
        GradCheck.check("ranking drejected (h 1e-2, rel 1e-3)", r, 0, 3, dr, 0, () -> 2 * Losses.pairwiseRankingSum(c, r, 3),
                1e-2f, 1e-3, 1e-5);
    }
}
