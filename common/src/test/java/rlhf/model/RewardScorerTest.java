package rlhf.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

import org.junit.jupiter.api.Test;

/**
 * The reward convention against a direct computation: each pair alone (B=1, no padding) through
 * Gpt forward + score head, read at its last token. Tolerance 1e-5 absolute.
 */
class RewardScorerTest {

    static final int EOS = 49;
    static final int[][] PROMPTS = {{1, 2, 3}, {4}, {5, 6, 7, 8, 9, 10}};
    static final int[][] RESPONSES = {{11, 12}, {13, 14, 15, 16, 17}, {EOS}};

    @Test
    void batchedPaddedScoresEqualEachPairAloneWithAndWithoutEos() {
        for (boolean causal : new boolean[] {true, false}) {
            GptConfig cfg = config(causal);
            float[] params = params(cfg);
            RewardScorer s = new RewardScorer(cfg, 4, 16);
            for (boolean eos : new boolean[] {false, true}) {
                float[] got = new float[3];
                s.score(params, PROMPTS, RESPONSES, 3, eos, EOS, got);
                for (int i = 0; i < 3; i++) {
                    int[] seq = concat(PROMPTS[i], RESPONSES[i]);
                    // the third response already ends with EOS: never a second one
                    if (eos && i != 2) {
                        seq = concat(seq, new int[] {EOS});
                    }
                    assertEquals(alone(cfg, params, seq), got[i], 1e-5,
                            "pair " + i + (causal ? " causal" : " bidirectional") + (eos ? " with EOS" : ""));
                }
            }
        }
    }

    @Test
    void eosChangesTheScore() {
        GptConfig cfg = config(true);
        float[] params = params(cfg);
        RewardScorer s = new RewardScorer(cfg, 2, 16);
        float[] without = new float[1];
        float[] with = new float[1];
        s.score(params, PROMPTS, RESPONSES, 1, false, EOS, without);
        s.score(params, PROMPTS, RESPONSES, 1, true, EOS, with);
        assertFalse(with[0] == without[0], "EOS appended: the score is read at another token");
        assertEquals(6, RewardScorer.length(PROMPTS[0], RESPONSES[0], true, EOS));
        assertEquals(7, RewardScorer.length(PROMPTS[2], RESPONSES[2], true, EOS));
    }

    @Test
    void tooLongAndNoScoreHeadAreErrors() {
        GptConfig cfg = config(true);
        RewardScorer s = new RewardScorer(cfg, 2, 8);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> s.score(params(cfg), new int[][] {{1}, PROMPTS[2]}, new int[][] {{2}, {3, 4}}, 2, true, EOS,
                        new float[2]));
        assertTrue(e.getMessage().startsWith("pair 1 has 9 tokens"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new RewardScorer(cfg.withScoreHead(false), 1, 8));
        assertTrue(e.getMessage().contains("no score head"), e.getMessage());
    }

    static GptConfig config(boolean causal) {
        return new GptConfig(50, 32, 2, 2, 16, 1e-5f, GptConfig.Activation.GELU, causal, GptConfig.Positions.LEARNED,
                GptConfig.Norm.PRE_LN, 0f, 0f, 0f, true);
    }

    static float[] params(GptConfig cfg) {
        float[] p = new float[ParamLayout.of(cfg).size()];
        Gpt.init(cfg, p, 11);
        // a larger score head so the differences between tokens are well above the tolerance
        ParamLayout.View v = ParamLayout.of(cfg).view("score.weight");
        for (int i = 0; i < v.size(); i++) {
            p[v.offset() + i] *= 50f;
        }
        return p;
    }

    static float alone(GptConfig cfg, float[] params, int[] seq) {
        Gpt g = new Gpt(cfg, 1, seq.length);
        g.forward(params, seq, null, null, 1, seq.length, false, 0L);
        float[] values = new float[seq.length];
        g.scoreHeadForward(params, values);
        return values[seq.length - 1];
    }

    static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
