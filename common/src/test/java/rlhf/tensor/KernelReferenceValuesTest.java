package rlhf.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Test;

/** Forward kernels against values computed by hand (tolerance 1e-5 unless stated). */
class KernelReferenceValuesTest {

    @Test
    void layerNormOfOneTwoThreeIsMinusSqrtOneHalfZeroPlus() {
        // mean 2, variance 2/3, rstd = 1/sqrt(2/3 + eps); normalised = (-1.2247, 0, 1.2247)
        float[] out = new float[3], mean = new float[1], rstd = new float[1];
        LayerNorm.forward(out, 0, mean, 0, rstd, 0, new float[] {1, 2, 3}, 0, new float[] {1, 2, 1}, 0,
                new float[] {0, 0, 0.5f}, 0, 1, 3, 1e-5f);
        double s = 1.0 / Math.sqrt(2.0 / 3.0 + 1e-5);
        assertArrayEquals(new float[] {(float) -s, 0f, (float) (s + 0.5)}, out, 1e-5f);
        assertEquals(2f, mean[0], 1e-6f);
        assertEquals((float) s, rstd[0], 1e-5f);
    }

    @Test
    void geluTanhMatchesHandValues() {
        // gelu_new(1) = 0.5 (1 + tanh(sqrt(2/pi) * 1.044715)) = 0.8411920; gelu_new(-1) = -0.1588080
        float[] out = new float[3];
        Gelu.forward(out, 0, new float[] {0f, 1f, -1f}, 0, 3);
        assertArrayEquals(new float[] {0f, 0.8411920f, -0.1588080f}, out, 1e-6f);
    }

    @Test
    void softmaxOfZeroOneTwoMatchesHandValues() {
        // e^0, e^1, e^2 over their sum 11.10732: 0.0900306, 0.2447285, 0.6652410
        float[] out = new float[3];
        Softmax.forward(out, 0, new float[] {0f, 1f, 2f}, 0, 1, 3);
        assertArrayEquals(new float[] {0.0900306f, 0.2447285f, 0.6652410f}, out, 1e-6f);
        Softmax.logForward(out, 0, new float[] {0f, 1f, 2f}, 0, 1, 3);
        assertArrayEquals(new float[] {-2.4076059f, -1.4076059f, -0.4076059f}, out, 1e-6f);
    }

    @Test
    void attentionOfTwoTokensOneHeadMatchesHandValues() {
        // C = HS = 1, NH = 1, T = 2: q = (1, 2), k = (0, 1), v = (10, 20).
        // causal: t=0 sees only itself -> 10; t=1 scores (2*0, 2*1) -> softmax (0.1192, 0.8808) -> 18.808
        // bidirectional t=0: scores (0, 1) -> (0.2689, 0.7311) -> 17.311
        float[] qkv = {1, 0, 10, 2, 1, 20};
        float[] out = new float[2], lse = new float[2], scratch = new float[4];
        Attention.forward(out, 0, lse, 0, qkv, 0, null, 1, 2, 1, 1, true, 0f, null, 0, scratch, 0);
        assertArrayEquals(new float[] {10f, 18.807971f}, out, 1e-4f);
        Attention.forward(out, 0, lse, 0, qkv, 0, null, 1, 2, 1, 1, false, 0f, null, 0, scratch, 0);
        assertArrayEquals(new float[] {17.310586f, 18.807971f}, out, 1e-4f);
        // different segments: each token sees only itself
        Attention.forward(out, 0, lse, 0, qkv, 0, new int[] {0, 1}, 1, 2, 1, 1, false, 0f, null, 0, scratch, 0);
        assertArrayEquals(new float[] {10f, 20f}, out, 1e-5f);
    }

    @Test
    void sinusoidsMatchTheFormula() {
        float[] pe = Encoder.sinusoids(3, 4);
        // pos 2: sin(2), cos(2), sin(2/100), cos(2/100)
        assertArrayEquals(new float[] {(float) Math.sin(2), (float) Math.cos(2), (float) Math.sin(0.02), (float) Math.cos(0.02)},
                java.util.Arrays.copyOfRange(pe, 8, 12), 1e-6f);
    }

    @Test
    void dropoutMaskDependsOnlyOnSeedStreamAndIndexAndKeepsTheExpectedFraction() {
        int n = 100_000;
        float[] ones = new float[n];
        java.util.Arrays.fill(ones, 1f);
        float[] a = new float[n], b = new float[n];
        Dropout.forward(a, 0, ones, 0, n, 0.25f, 9, 1);
        Dropout.forward(b, 0, ones, 0, n, 0.25f, 9, 1);
        assertArrayEquals(a, b, 0f);
        int kept = 0;
        for (float x : a) {
            if (x != 0f) {
                assertEquals(1f / 0.75f, x, 1e-6f);
                kept++;
            }
        }
        assertEquals(0.75, kept / (double) n, 0.01, "kept fraction (tolerance 0.01)");
        Dropout.forward(b, 0, ones, 0, n, 0.25f, 10, 1);
        assertNotEquals(java.util.Arrays.hashCode(a), java.util.Arrays.hashCode(b), "another seed, another mask");
    }
}
