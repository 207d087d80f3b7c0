package rlhf.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Token sampling from a known distribution over a grid of 1000 uniforms u = (i + 0.5) / 1000. */
class SamplerTest {

    static final int V = 17;
    static final double[] P = {0.4, 0.3, 0.15, 0.1, 0.05};

    static int[] counts(float[] logits, GenerationConfig gc, float[] logprobs) {
        Generator gen = new Generator(GptConfig.gpt2(V, 8, 1, 1, 4), 1, 2, 2);
        int[] counts = new int[V];
        for (int i = 0; i < 1000; i++) {
            int tok = gen.sample(logits, 0, gc, (i + 0.5) / 1000);
            counts[tok]++;
            if (logprobs != null) {
                logprobs[tok] = gen.lastLogprob;
            }
        }
        return counts;
    }

    static float[] peaked() {
        float[] lg = new float[V];
        java.util.Arrays.fill(lg, -30f);
        for (int i = 0; i < P.length; i++) {
            lg[i] = (float) Math.log(P[i]);
        }
        return lg;
    }

    static GenerationConfig cfg(int topK, float topP) {
        return new GenerationConfig(4, 1f, topK, topP, -1, 0);
    }

    @Test
    void plainSamplingFollowsTheSoftmaxAndReportsItsLogprob() {
        float[] lp = new float[V];
        int[] c = counts(peaked(), cfg(0, 1f), lp);
        for (int i = 0; i < P.length; i++) {
            assertEquals(1000 * P[i], c[i], 1.01, "token " + i + " count (exact grid, tolerance 1)");
            assertEquals(Math.log(P[i]), lp[i], 1e-5, "token " + i + " logprob");
        }
    }

    @Test
    void topPKeepsTheSmallestPrefixReachingPAndLogprobIgnoresTruncation() {
        float[] lp = new float[V];
        int[] c = counts(peaked(), cfg(0, 0.65f), lp); // 0.4 < 0.65 <= 0.7: keep {0, 1}
        assertEquals(1000 * 0.4 / 0.7, c[0], 1.01);
        assertEquals(1000 * 0.3 / 0.7, c[1], 1.01);
        assertEquals(Math.log(0.4), lp[0], 1e-5, "logprob under the untruncated softmax");
        int[] k = counts(peaked(), cfg(3, 1f), null); // top 3: {0, 1, 2}
        assertEquals(1000 * 0.4 / 0.85, k[0], 1.01);
        assertEquals(1000 * 0.15 / 0.85, k[2], 1.01);
        assertEquals(0, k[3]);
        int[] both = counts(peaked(), cfg(2, 0.9f), null); // top-p would keep 4, top-k 2 wins
        assertEquals(1000, both[0] + both[1]);
    }

    @Test
    void topPOnAFlatDistributionKeepsJustEnoughTokens() {
        int[] c = counts(new float[V], cfg(0, 0.5f), null); // 9/17 >= 0.5 > 8/17
        int distinct = 0;
        for (int x : c) {
            distinct += x > 0 ? 1 : 0;
        }
        assertEquals(9, distinct);
    }
}
