package rlhf.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;

class OptimTest {

    @Test
    void adamWFirstTwoStepsMatchHandComputationAndSkipDecayOnBiasesAndLayerNorm() {
        GptConfig cfg = GptConfig.gpt2(3, 2, 1, 1, 2);
        ParamLayout layout = ParamLayout.of(cfg);
        int P = layout.size();
        float[] p = new float[P];
        float[] g = new float[P];
        java.util.Arrays.fill(p, 1f);
        java.util.Arrays.fill(g, 0.5f);
        AdamW opt = new AdamW(layout, 0.9f, 0.99f, 1e-8f, 0.1f, false);
        opt.update(p, g, 0.01f);
        // step 1: m = 0.05, v = 0.0025, mhat = 0.5, vhat = 0.25 -> adam step 0.5/0.5 = 1
        // decayed (c_attn.weight): 1 - 0.01*1 - 0.01*0.1*1 = 0.989; not decayed (ln_1.bias, wte): 0.99
        int w = layout.offset("h.0.attn.c_attn.weight");
        int b = layout.offset("h.0.ln_1.bias");
        int e = layout.offset("wte.weight");
        assertEquals(0.989f, p[w], 1e-6f);
        assertEquals(0.99f, p[b], 1e-6f);
        assertEquals(0.99f, p[e], 1e-6f);
        // step 2 with g = -1: m = 0.9*0.05 - 0.1 = -0.055, v = 0.99*0.0025 + 0.01 = 0.012475
        // mhat = -0.055/0.19 = -0.2894737, vhat = 0.012475/0.0199 = 0.6268844, step = -0.3656133
        java.util.Arrays.fill(g, -1f);
        opt.update(p, g, 0.01f);
        assertEquals(0.99f + 0.003656133f, p[b], 1e-6f);
        assertEquals(0.989f + 0.003656133f - 0.001f * 0.989f, p[w], 1e-6f);
        assertEquals(2, opt.step());
        AdamW copy = new AdamW(layout, 0.9f, 0.99f, 1e-8f, 0.1f, false);
        copy.restore(opt.m(), opt.v(), opt.step());
        float[] p1 = p.clone(), p2 = p.clone();
        opt.update(p1, g, 0.01f);
        copy.update(p2, g, 0.01f);
        assertArrayEquals(p1, p2, 0f, "restored state continues bit-identically");
    }

    @Test
    void scheduleWarmsUpLinearlyThenDecaysByCosineToMinimum() {
        LrSchedule s = new LrSchedule(1f, 0.1f, 4, 14);
        assertEquals(0.25f, s.lr(0), 1e-7f);
        assertEquals(1f, s.lr(3), 1e-7f);
        assertEquals(1f, s.lr(4), 1e-7f);
        assertEquals(0.55f, s.lr(9), 1e-6f); // halfway: min + (max-min)/2
        assertEquals(0.1f, s.lr(14), 1e-7f);
        assertEquals(0.1f, s.lr(100), 1e-7f);
        assertEquals(0.3f, LrSchedule.constant(0.3f).lr(7), 0f);
    }

    @Test
    void clipGlobalNormReturnsNormBeforeAndScalesToMax() {
        float[] g = {3f, 4f};
        assertEquals(5f, GradClip.clipGlobalNorm(g, 1f), 1e-6f);
        assertArrayEquals(new float[] {0.6f, 0.8f}, g, 1e-5f);
        assertEquals(1f, GradClip.clipGlobalNorm(g, 10f), 1e-5f);
        assertArrayEquals(new float[] {0.6f, 0.8f}, g, 1e-5f);
    }
}
