package rlhf.tensor;

/**
 * Multi-head scaled dot-product attention over a packed qkv tensor, causal or bidirectional,
 * with optional segment ids: position t attends to t2 only if segments[b,t] == segments[b,t2]
 * (and t2 <= t when causal), so packed examples never see each other.
 *
 * <p>The (T,T) attention matrix is not stored: forward keeps only the log-sum-exp of each
 * score row (B,NH,T) and backward recomputes the probabilities from q and k (as
 * FlashAttention does), so memory stays O(B·NH·T) per layer. Work is split over (b, head);
 * each (b, head) owns its slices of out / dqkv and its row of scratch, so there are no races.
 *
 * <p>qkv layout per token: [q (C) | k (C) | v (C)], head h at columns h·HS .. h·HS+HS-1.
 * Attention dropout drops probability (b,h,t,t2) by {@code Dropout.factor(p, seeds[b], stream,
 * dropIndex(h, t, t2))}: one seed per row and an index that depends neither on the row's place in
 * the batch nor on T, so an example gets the same mask alone, among other rows, or padded longer.
 */
public final class Attention {

    private Attention() {
    }

    /**
     * qkv (B,T,3C), segments (B,T) or null -> out (B,T,C), lse (B,NH,T); scratch >= B·NH·T;
     * seeds (B) the dropout seed of each row (unread, may be null, when dropP == 0).
     */
    public static void forward(float[] out, int outOff, float[] lse, int lseOff, float[] qkv, int qkvOff,
                               int[] segments, int B, int T, int C, int NH, boolean causal,
                               float dropP, long[] seeds, long stream, float[] scratch, int scratchOff) {
        Parallel.forRange(B * NH, 1, (from, to) -> {
            for (int bh = from; bh < to; bh++) {
                forwardHead(out, outOff, lse, lseOff, qkv, qkvOff, segments, bh / NH, bh % NH, T, C, NH,
                        causal, dropP, dropP == 0f ? 0L : seeds[bh / NH], stream, scratch, scratchOff + bh * T);
            }
        });
    }

    private static void forwardHead(float[] out, int outOff, float[] lse, int lseOff, float[] qkv, int qkvOff,
                                    int[] segments, int b, int h, int T, int C, int NH, boolean causal,
                                    float dropP, long seed, long stream, float[] p, int pOff) {
        int HS = C / NH;
        float scale = (float) (1.0 / Math.sqrt(HS));
        int C3 = 3 * C;
        for (int t = 0; t < T; t++) {
            int q = qkvOff + (b * T + t) * C3 + h * HS;
            int end = causal ? t + 1 : T;
            float max = Float.NEGATIVE_INFINITY;
            for (int t2 = 0; t2 < end; t2++) {
                if (segments != null && segments[b * T + t2] != segments[b * T + t]) {
                    continue;
                }
                float s = dot(qkv, q, qkv, qkvOff + (b * T + t2) * C3 + C + h * HS, HS) * scale;
                p[pOff + t2] = s;
                max = Math.max(max, s);
            }
            double sum = 0;
            for (int t2 = 0; t2 < end; t2++) {
                if (segments != null && segments[b * T + t2] != segments[b * T + t]) {
                    p[pOff + t2] = 0f;
                    continue;
                }
                float e = (float) Math.exp(p[pOff + t2] - max);
                p[pOff + t2] = e;
                sum += e;
            }
            lse[lseOff + (b * NH + h) * T + t] = max + (float) Math.log(sum);
            float inv = (float) (1.0 / sum);
            int o = outOff + (b * T + t) * C + h * HS;
            for (int i = 0; i < HS; i++) {
                out[o + i] = 0f;
            }
            long row = dropIndex(h, t, 0);
            for (int t2 = 0; t2 < end; t2++) {
                float a = p[pOff + t2] * inv * Dropout.factor(dropP, seed, stream, row + t2);
                if (a == 0f) {
                    continue;
                }
                int v = qkvOff + (b * T + t2) * C3 + 2 * C + h * HS;
                for (int i = 0; i < HS; i++) {
                    out[o + i] += a * qkv[v + i];
                }
            }
        }
    }

    /** dout (B,T,C) -> dqkv (B,T,3C) +=, given the forward's qkv and lse; scratch >= 2·B·NH·T. */
    public static void backward(float[] dqkv, int dqkvOff, float[] dout, int doutOff, float[] qkv, int qkvOff,
                                float[] lse, int lseOff, int[] segments, int B, int T, int C, int NH, boolean causal,
                                float dropP, long[] seeds, long stream, float[] scratch, int scratchOff) {
        Parallel.forRange(B * NH, 1, (from, to) -> {
            for (int bh = from; bh < to; bh++) {
                backwardHead(dqkv, dqkvOff, dout, doutOff, qkv, qkvOff, lse, lseOff, segments, bh / NH, bh % NH,
                        T, C, NH, causal, dropP, dropP == 0f ? 0L : seeds[bh / NH], stream, scratch, scratchOff + 2 * bh * T);
            }
        });
    }

    private static void backwardHead(float[] dqkv, int dqkvOff, float[] dout, int doutOff, float[] qkv, int qkvOff,
                                     float[] lse, int lseOff, int[] segments, int b, int h, int T, int C, int NH,
                                     boolean causal, float dropP, long seed, long stream, float[] sc, int pOff) {
        int HS = C / NH;
        float scale = (float) (1.0 / Math.sqrt(HS));
        int C3 = 3 * C;
        int dOff = pOff + T; // second scratch row: dscore
        for (int t = 0; t < T; t++) {
            int q = qkvOff + (b * T + t) * C3 + h * HS;
            int dq = dqkvOff + (b * T + t) * C3 + h * HS;
            int dy = doutOff + (b * T + t) * C + h * HS;
            int end = causal ? t + 1 : T;
            float l = lse[lseOff + (b * NH + h) * T + t];
            long row = dropIndex(h, t, 0);
            float dot = 0f; // sum over t2 of p * dp
            for (int t2 = 0; t2 < end; t2++) {
                if (segments != null && segments[b * T + t2] != segments[b * T + t]) {
                    sc[pOff + t2] = 0f;
                    sc[dOff + t2] = 0f;
                    continue;
                }
                int k = qkvOff + (b * T + t2) * C3 + C + h * HS;
                float s = dot(qkv, q, qkv, k, HS);
                float dp = dot(dout, dy, qkv, k + C, HS);
                float prob = (float) Math.exp(s * scale - l);
                float f = Dropout.factor(dropP, seed, stream, row + t2);
                // out = sum_t2 prob * f * v: dv += prob * f * dy; dprob = f * (dy . v)
                if (f != 0f) {
                    int dv = dqkvOff + (b * T + t2) * C3 + 2 * C + h * HS;
                    float a = prob * f;
                    for (int i = 0; i < HS; i++) {
                        dqkv[dv + i] += a * dout[dy + i];
                    }
                }
                sc[pOff + t2] = prob;
                sc[dOff + t2] = dp * f;
                dot += prob * dp * f;
            }
            for (int t2 = 0; t2 < end; t2++) {
                float prob = sc[pOff + t2];
                if (prob == 0f) {
                    continue;
                }
                float ds = prob * (sc[dOff + t2] - dot) * scale;
                int k = qkvOff + (b * T + t2) * C3 + C + h * HS;
                int dk = dqkvOff + (b * T + t2) * C3 + C + h * HS;
                for (int i = 0; i < HS; i++) {
                    dqkv[dq + i] += ds * qkv[k + i];
                    dqkv[dk + i] += ds * qkv[q + i];
                }
            }
        }
    }

    /** Dropout index of probability (h, t, t2) within a row's stream (t, t2 < 2^21): independent of T and b. */
    static long dropIndex(int h, int t, int t2) {
        return ((long) h << 42) | ((long) t << 21) | t2;
    }

    /**
     * One query token per row against a KV cache (generation): q (C) at qOff, keys and values of
     * positions 0..len-1 at kOff + t·C / vOff + t·C (head h at h·HS) -> out (C). No dropout, no
     * mask (the cache holds exactly the tokens this row may see). scratch >= len.
     */
    public static void forwardCached(float[] out, int outOff, float[] q, int qOff, float[] kc, int kOff,
                                     float[] vc, int vOff, int len, int C, int NH, float[] p, int pOff) {
        int HS = C / NH;
        float scale = (float) (1.0 / Math.sqrt(HS));
        for (int h = 0; h < NH; h++) {
            int qh = qOff + h * HS;
            for (int t2 = 0; t2 < len; t2++) {
                p[pOff + t2] = dot(q, qh, kc, kOff + t2 * C + h * HS, HS) * scale;
            }
            Softmax.forward(p, pOff, p, pOff, 1, len);
            int o = outOff + h * HS;
            for (int i = 0; i < HS; i++) {
                out[o + i] = 0f;
            }
            for (int t2 = 0; t2 < len; t2++) {
                float a = p[pOff + t2];
                int v = vOff + t2 * C + h * HS;
                for (int i = 0; i < HS; i++) {
                    out[o + i] += a * vc[v + i];
                }
            }
        }
    }

    /** a[aOff..aOff+n) . b[bOff..bOff+n) with four independent accumulators (the JIT keeps them in registers). */
    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[aOff + i] * b[bOff + i];
            s1 += a[aOff + i + 1] * b[bOff + i + 1];
            s2 += a[aOff + i + 2] * b[bOff + i + 2];
            s3 += a[aOff + i + 3] * b[bOff + i + 3];
        }
        for (; i < n; i++) {
            s0 += a[aOff + i] * b[bOff + i];
        }
        return (s0 + s1) + (s2 + s3);
    }
}
