package rlhf.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * The Vector API paths of Attention, Gelu and Softmax against their scalar references on odd
 * shapes (head size 40 = whole vectors plus a tail on every vector width), tolerance 1e-5 relative
 * to the largest magnitude unless stated.
 */
class SimdKernelsTest {

    static float[] random(Random r, int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * scale);
        }
        return x;
    }

    static void assertClose(float[] expected, float[] actual, double rel, String what) {
        double maxAbs = 1e-6;
        for (float e : expected) {
            maxAbs = Math.max(maxAbs, Math.abs(e));
        }
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            if (d > worst) {
                worst = d;
                at = i;
            }
        }
        if (worst > rel * maxAbs) {
            throw new AssertionError(what + ": max difference " + worst + " at " + at + " (expected " + expected[at]
                    + ", found " + actual[at] + "), allowed " + rel * maxAbs);
        }
    }

    @Test
    void attentionForwardAndBackwardMatchReferenceWithinFloatRounding() {
        int B = 2, T = 9, NH = 3, HS = 40, C = NH * HS;
        Random r = new Random(5);
        float[] qkv = random(r, B * T * 3 * C, 1f);
        float[] dout = random(r, B * T * C, 1f);
        int[] seg = {0, 0, 0, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 0, 1, 1, 1, 1};
        long[] seeds = {3, 11};
        for (boolean causal : new boolean[] {true, false}) {
            for (int[] segments : new int[][] {null, seg}) {
                for (float p : new float[] {0f, 0.3f}) {
                    String what = "causal=" + causal + " segments=" + (segments != null) + " dropout=" + p;
                    float[] out1 = new float[B * T * C], out2 = new float[B * T * C];
                    float[] lse1 = new float[B * NH * T], lse2 = new float[B * NH * T];
                    float[] scratch = new float[2 * B * NH * T];
                    Attention.forwardReference(out1, 0, lse1, 0, qkv, 0, segments, B, T, C, NH, causal, p, seeds, 4, scratch, 0);
                    Attention.forward(out2, 0, lse2, 0, qkv, 0, segments, B, T, C, NH, causal, p, seeds, 4, scratch, 0);
                    assertClose(out1, out2, 1e-5, "forward out, " + what);
                    assertClose(lse1, lse2, 1e-5, "forward lse, " + what);
                    float[] d1 = random(new Random(9), B * T * 3 * C, 0.1f);
                    float[] d2 = d1.clone();
                    Attention.backwardReference(d1, 0, dout, 0, qkv, 0, lse1, 0, segments, B, T, C, NH, causal, p, seeds, 4,
                            scratch, 0);
                    Attention.backward(d2, 0, dout, 0, qkv, 0, lse1, 0, segments, B, T, C, NH, causal, p, seeds, 4, scratch, 0);
                    assertClose(d1, d2, 1e-5, "backward dqkv (accumulated), " + what);
                }
            }
        }
    }

    @Test
    void cachedAttentionMatchesFullCausalAttentionOfTheLastPosition() {
        int T = 7, NH = 3, HS = 40, C = NH * HS;
        Random r = new Random(6);
        float[] qkv = random(r, T * 3 * C, 1f);
        float[] out = new float[T * C];
        float[] lse = new float[NH * T];
        Attention.forwardReference(out, 0, lse, 0, qkv, 0, null, 1, T, C, NH, true, 0f, null, 0, new float[2 * NH * T], 0);
        float[] k = new float[T * C], v = new float[T * C];
        for (int t = 0; t < T; t++) {
            System.arraycopy(qkv, t * 3 * C + C, k, t * C, C);
            System.arraycopy(qkv, t * 3 * C + 2 * C, v, t * C, C);
        }
        float[] cached = new float[C];
        Attention.forwardCached(cached, 0, qkv, (T - 1) * 3 * C, k, 0, v, 0, T, C, NH, new float[T], 0);
        float[] expected = java.util.Arrays.copyOfRange(out, (T - 1) * C, T * C);
        assertClose(expected, cached, 1e-5, "cached attention of the last position");
    }

    @Test
    void geluMatchesTheFormulaInDoubleWithin1e6() {
        int n = 1000 + 13; // vectors plus a tail
        float[] x = random(new Random(7), n, 3f);
        float[] out = new float[n];
        Gelu.forward(out, 0, x, 0, n);
        float[] dout = random(new Random(8), n, 1f);
        float[] dx = new float[n];
        java.util.Arrays.fill(dx, 0.5f);
        Gelu.backward(dx, 0, x, 0, dout, 0, n);
        float[] dxSet = new float[n];
        java.util.Arrays.fill(dxSet, 7f); // overwritten, not accumulated
        Gelu.backwardSet(dxSet, 0, x, 0, dout, 0, n);
        double s = Math.sqrt(2 / Math.PI);
        for (int i = 0; i < n; i++) {
            double xi = x[i];
            double th = Math.tanh(s * (xi + 0.044715 * xi * xi * xi));
            assertEquals(0.5 * xi * (1 + th), out[i], 1e-6 * Math.max(1, Math.abs(xi)), "gelu(" + xi + ")");
            double grad = 0.5 * (1 + th) + 0.5 * xi * (1 - th * th) * s * (1 + 3 * 0.044715 * xi * xi);
            assertEquals(0.5 + grad * dout[i], dx[i], 2e-6 * Math.max(1, Math.abs(dout[i])), "gelu'(" + xi + ")");
            assertEquals(grad * dout[i], dxSet[i], 2e-6 * Math.max(1, Math.abs(dout[i])), "gelu'(" + xi + "), set");
        }
    }

    @Test
    void logSumExpAndLmHeadGradientMatchScalarLoopsWithin1e5() {
        int V = 50257;
        float[] x = random(new Random(10), V, 4f);
        float inv = 1f / 0.7f;
        double ref = Softmax.logSumExpReference(x, 0, V, inv);
        assertEquals(ref, Softmax.logSumExp(x, 0, V, inv), 1e-5 * Math.abs(ref), "log-sum-exp");
        float lse = (float) ref;
        for (float ge : new float[] {0f, 0.3f}) {
            float[] g = x.clone();
            Softmax.lmHeadGradient(g, 0, V, inv, lse, -0.25f, ge, 2.5f);
            float[] expected = new float[V];
            for (int i = 0; i < V; i++) {
                double lp = x[i] * inv - lse;
                double p = Math.exp(lp);
                expected[i] = (float) ((0.25 * p - ge * p * (lp + 2.5)) * inv);
            }
            assertClose(expected, g, 1e-5, "LM head gradient, dentropy=" + ge);
        }
    }

    @Test
    void layerNormForwardAndBackwardMatchTheFormulaInDoubleWithin1e5() {
        int N = 3, C = 100; // vectors plus a tail
        Random r = new Random(12);
        float[] x = random(r, N * C, 2f), w = random(r, C, 1f), b = random(r, C, 1f), dout = random(r, N * C, 1f);
        float[] out = new float[N * C], mean = new float[N], rstd = new float[N];
        LayerNorm.forward(out, 0, mean, 0, rstd, 0, x, 0, w, 0, b, 0, N, C, 1e-5f);
        float[] dx = new float[N * C];
        float[] dw = new float[C], db = new float[C];
        LayerNorm.backward(dx, 0, dw, 0, db, 0, dout, 0, x, 0, w, 0, mean, 0, rstd, 0, N, C);
        float[] eOut = new float[N * C], eDx = new float[N * C];
        for (int n = 0; n < N; n++) {
            double m = 0, v = 0;
            for (int i = 0; i < C; i++) {
                m += x[n * C + i];
            }
            m /= C;
            for (int i = 0; i < C; i++) {
                v += (x[n * C + i] - m) * (x[n * C + i] - m);
            }
            double s = 1 / Math.sqrt(v / C + 1e-5);
            double g1 = 0, g2 = 0;
            for (int i = 0; i < C; i++) {
                double norm = (x[n * C + i] - m) * s;
                eOut[n * C + i] = (float) (norm * w[i] + b[i]);
                g1 += dout[n * C + i] * w[i];
                g2 += dout[n * C + i] * w[i] * norm;
            }
            for (int i = 0; i < C; i++) {
                double norm = (x[n * C + i] - m) * s;
                eDx[n * C + i] = (float) (s * (dout[n * C + i] * w[i] - g1 / C - norm * g2 / C));
            }
        }
        assertClose(eOut, out, 1e-5, "LayerNorm forward");
        assertClose(eDx, dx, 1e-5, "LayerNorm backward dinp");
    }
}
