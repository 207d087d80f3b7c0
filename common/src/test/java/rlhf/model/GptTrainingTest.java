package rlhf.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import rlhf.optim.AdamW;
import rlhf.optim.GradClip;

class GptTrainingTest {

    static final GptConfig CFG = GptConfig.gpt2(13, 16, 2, 2, 16).withDropout(0.1f, 0.1f, 0.1f);

    /** Trains on one batch for steps; returns the final mean cross-entropy (without dropout). */
    static float overfit(float[] params, int steps) {
        int B = 2, T = 8;
        int[] tokens = {1, 5, 2, 7, 3, 9, 4, 11, 12, 0, 6, 6, 8, 10, 2, 3};
        int[] targets = new int[B * T];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                targets[b * T + t] = t + 1 < T ? tokens[b * T + t + 1] : -1;
            }
        }
        Gpt gpt = new Gpt(CFG, B, T);
        AdamW opt = new AdamW(gpt.layout(), 0.9f, 0.95f, 1e-8f, 0.01f, false);
        float[] grads = new float[params.length];
        float[] logp = new float[B * T], dlogp = new float[B * T];
        int count = Losses.countTargets(targets, B * T);
        for (int s = 0; s < steps; s++) {
            java.util.Arrays.fill(grads, 0f);
            java.util.Arrays.fill(dlogp, 0f);
            gpt.forward(params, tokens, null, null, B, T, true, s);
            gpt.lmHeadForward(params, targets, 1f, logp, null);
            Losses.tokenCrossEntropyBackward(dlogp, targets, B * T, 1f / count);
            gpt.lmHeadBackward(params, grads, dlogp, null);
            gpt.backward(params, grads);
            GradClip.clipGlobalNorm(grads, 1f);
            opt.update(params, grads, 1e-2f);
        }
        gpt.forward(params, tokens, null, null, B, T, false, 0);
        gpt.lmHeadForward(params, targets, 1f, logp, null);
        return (float) (Losses.tokenCrossEntropySum(logp, targets, B * T) / count);
    }

    @Test
    void smallModelOverfitsOneBatchWithAdamW() {
        float[] params = new float[ParamLayout.of(CFG).size()];
        Gpt.init(CFG, params, 42);
        float loss = overfit(params, 150);
        assertTrue(loss < 0.05f, "cross-entropy after 150 AdamW steps should be < 0.05 (ln 13 = 2.56 at start), was " + loss);
    }

    @Test
    void sameSeedGivesBitIdenticalInitAndTraining() {
        float[] a = new float[ParamLayout.of(CFG).size()];
        float[] b = new float[a.length];
        Gpt.init(CFG, a, 7);
        Gpt.init(CFG, b, 7);
        assertArrayEquals(a, b, 0f);
        overfit(a, 5);
        overfit(b, 5);
        assertArrayEquals(a, b, 0f, "five dropout training steps from the same seed");
    }

    @Test
    void initFollowsGpt2Scales() {
        GptConfig cfg = GptConfig.gpt2(500, 64, 4, 4, 64);
        ParamLayout layout = ParamLayout.of(cfg);
        float[] p = new float[layout.size()];
        Gpt.init(cfg, p, 3);
        assertEquals(0.02, std(p, layout.view("wte.weight")), 0.002);
        assertEquals(0.02 / Math.sqrt(8), std(p, layout.view("h.1.mlp.c_proj.weight")), 0.001);
        assertEquals(1f, p[layout.offset("h.2.ln_2.weight")], 0f);
        assertEquals(0f, p[layout.offset("h.2.attn.c_attn.bias") + 5], 0f);
    }

    static double std(float[] p, ParamLayout.View v) {
        double s = 0, s2 = 0;
        for (int i = 0; i < v.size(); i++) {
            s += p[v.offset() + i];
            s2 += (double) p[v.offset() + i] * p[v.offset() + i];
        }
        double m = s / v.size();
        return Math.sqrt(s2 / v.size() - m * m);
    }

    /** forward + both heads + backward with the kernels split over the given number of threads. */
    static float[] gradsWithThreads(int threads, GptConfig cfg, float[] params, int B, int T) {
        int prev = rlhf.tensor.Parallel.threads();
        rlhf.tensor.Parallel.setThreads(threads);
        try {
            Gpt gpt = new Gpt(cfg, B, T);
            int[] tokens = new int[B * T];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = (i * 7 + 3) % cfg.vocabSize();
            }
            float[] logp = new float[B * T], ent = new float[B * T], values = new float[B * T];
            float[] ones = new float[B * T];
            java.util.Arrays.fill(ones, 0.1f);
            gpt.forward(params, tokens, null, null, B, T, true, 77);
            gpt.lmHeadForward(params, tokens, 0.9f, logp, ent);
            float[] probs = new float[cfg.vocabSize()];
            gpt.probabilities(5, probs, 0);
            double total = 0;
            for (float p : probs) {
                total += p;
            }
            assertEquals(1.0, total, 1e-5, "probabilities of row 5 sum to 1 (tol 1e-5)");
            assertEquals(logp[5], (float) Math.log(probs[tokens[5]]), 1e-5f, "log of the target's probability is logp");
            gpt.scoreHeadForward(params, values);
            float[] grads = new float[params.length];
            gpt.lmHeadBackward(params, grads, ones, ones);
            gpt.scoreHeadBackward(params, grads, ones);
            gpt.backward(params, grads);
            return grads;
        } finally {
            rlhf.tensor.Parallel.setThreads(prev);
        }
    }

    @Test
    void gradientsAreBitIdenticalForAnyThreadCount() {
        GptConfig cfg = GptConfig.gpt2(50, 32, 1, 4, 128).withDropout(0.1f, 0.1f, 0.1f).withScoreHead(true);
        float[] params = new float[ParamLayout.of(cfg).size()];
        Gpt.init(cfg, params, 4);
        float[] one = gradsWithThreads(1, cfg, params, 2, 32);
        float[] three = gradsWithThreads(3, cfg, params, 2, 32);
        assertArrayEquals(one, three, 0f, "1 thread vs 3 threads");
    }
}
