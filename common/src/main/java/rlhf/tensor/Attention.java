package rlhf.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

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
 * Attention dropout drops probability (b,h,t,t2) with index ((b·NH+h)·T+t)·T+t2 in stream.
 *
 * <p>{@link #forward}, {@link #backward} and {@link #forwardCached} use Vector API dot products,
 * axpys and exponentials over the head dimension (scalar tails for any HS); {@code *Reference}
 * are the plain scalar kernels they are tested against. {@code -Drlhf.simd=false} selects the
 * reference kernels. The fast ones sum in a different order (and exp is the vector library's),
 * so results agree within float rounding.
 */
public final class Attention {

    static final boolean SIMD = !"false".equalsIgnoreCase(System.getProperty("rlhf.simd", "true").trim());
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private Attention() {
    }

    /** qkv (B,T,3C), segments (B,T) or null -> out (B,T,C), lse (B,NH,T); scratch >= B·NH·T. */
    public static void forward(float[] out, int outOff, float[] lse, int lseOff, float[] qkv, int qkvOff,
                               int[] segments, int B, int T, int C, int NH, boolean causal,
                               float dropP, long seed, long stream, float[] scratch, int scratchOff) {
        Parallel.forRange(B * NH, 1, (from, to) -> {
            for (int bh = from; bh < to; bh++) {
                if (SIMD) {
                    forwardHeadFast(out, outOff, lse, lseOff, qkv, qkvOff, segments, bh / NH, bh % NH, T, C, NH,
                            causal, dropP, seed, stream, scratch, scratchOff + bh * T);
                } else {
                    forwardHead(out, outOff, lse, lseOff, qkv, qkvOff, segments, bh / NH, bh % NH, T, C, NH,
                            causal, dropP, seed, stream, scratch, scratchOff + bh * T);
                }
            }
        });
    }

    /** The plain scalar {@link #forward}, one (b, head) after another. */
    public static void forwardReference(float[] out, int outOff, float[] lse, int lseOff, float[] qkv, int qkvOff,
                                        int[] segments, int B, int T, int C, int NH, boolean causal,
                                        float dropP, long seed, long stream, float[] scratch, int scratchOff) {
        for (int bh = 0; bh < B * NH; bh++) {
            forwardHead(out, outOff, lse, lseOff, qkv, qkvOff, segments, bh / NH, bh % NH, T, C, NH,
                    causal, dropP, seed, stream, scratch, scratchOff + bh * T);
        }
    }

    /** {@link #forwardHead} with vector dot products, exponentials and accumulation of a·v. */
    private static void forwardHeadFast(float[] out, int outOff, float[] lse, int lseOff, float[] qkv, int qkvOff,
                                        int[] segments, int b, int h, int T, int C, int NH, boolean causal,
                                        float dropP, long seed, long stream, float[] p, int pOff) {
        int HS = C / NH;
        float scale = (float) (1.0 / Math.sqrt(HS));
        int C3 = 3 * C;
        int base = qkvOff + b * T * C3 + h * HS; // q of (b, t=0, h); k at +C, v at +2C
        for (int t = 0; t < T; t++) {
            int q = base + t * C3;
            int end = causal ? t + 1 : T;
            float max = Float.NEGATIVE_INFINITY;
            for (int t2 = 0; t2 < end; t2++) {
                if (segments != null && segments[b * T + t2] != segments[b * T + t]) {
                    p[pOff + t2] = Float.NEGATIVE_INFINITY; // exp -> 0
                    continue;
                }
                float s = dotFast(qkv, q, qkv, base + t2 * C3 + C, HS) * scale;
                p[pOff + t2] = s;
                max = Math.max(max, s);
            }
            double sum = expShiftSum(p, pOff, end, max);
            lse[lseOff + (b * NH + h) * T + t] = max + (float) Math.log(sum);
            float inv = (float) (1.0 / sum);
            long row = ((long) (b * NH + h) * T + t) * T;
            for (int t2 = 0; t2 < end; t2++) {
                p[pOff + t2] *= inv * Dropout.factor(dropP, seed, stream, row + t2);
            }
            // out = sum_t2 a[t2] v[t2], one vector of the head at a time
            int o = outOff + (b * T + t) * C + h * HS;
            int i = 0;
            for (int bound = F.loopBound(HS); i < bound; i += F.length()) {
                FloatVector acc = FloatVector.zero(F);
                for (int t2 = 0; t2 < end; t2++) {
                    acc = FloatVector.fromArray(F, qkv, base + t2 * C3 + 2 * C + i).fma(FloatVector.broadcast(F, p[pOff + t2]), acc);
                }
                acc.intoArray(out, o + i);
            }
            for (; i < HS; i++) {
                float acc = 0f;
                for (int t2 = 0; t2 < end; t2++) {
                    acc += p[pOff + t2] * qkv[base + t2 * C3 + 2 * C + i];
                }
                out[o + i] = acc;
            }
        }
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
            long row = ((long) (b * NH + h) * T + t) * T;
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
                                float dropP, long seed, long stream, float[] scratch, int scratchOff) {
        Parallel.forRange(B * NH, 1, (from, to) -> {
            for (int bh = from; bh < to; bh++) {
                if (SIMD) {
                    backwardHeadFast(dqkv, dqkvOff, dout, doutOff, qkv, qkvOff, lse, lseOff, segments, bh / NH,
                            bh % NH, T, C, NH, causal, dropP, seed, stream, scratch, scratchOff + 2 * bh * T);
                } else {
                    backwardHead(dqkv, dqkvOff, dout, doutOff, qkv, qkvOff, lse, lseOff, segments, bh / NH, bh % NH,
                            T, C, NH, causal, dropP, seed, stream, scratch, scratchOff + 2 * bh * T);
                }
            }
        });
    }

    /** The plain scalar {@link #backward}, one (b, head) after another. */
    public static void backwardReference(float[] dqkv, int dqkvOff, float[] dout, int doutOff, float[] qkv, int qkvOff,
                                         float[] lse, int lseOff, int[] segments, int B, int T, int C, int NH,
                                         boolean causal, float dropP, long seed, long stream, float[] scratch,
                                         int scratchOff) {
        for (int bh = 0; bh < B * NH; bh++) {
            backwardHead(dqkv, dqkvOff, dout, doutOff, qkv, qkvOff, lse, lseOff, segments, bh / NH, bh % NH,
                    T, C, NH, causal, dropP, seed, stream, scratch, scratchOff + 2 * bh * T);
        }
    }

    /** {@link #backwardHead} with vector dot products and axpys over the head dimension. */
    private static void backwardHeadFast(float[] dqkv, int dqkvOff, float[] dout, int doutOff, float[] qkv, int qkvOff,
                                         float[] lse, int lseOff, int[] segments, int b, int h, int T, int C, int NH,
                                         boolean causal, float dropP, long seed, long stream, float[] sc, int pOff) {
        int HS = C / NH;
        float scale = (float) (1.0 / Math.sqrt(HS));
        int C3 = 3 * C;
        int dOff = pOff + T; // second scratch row: dscore
        int base = qkvOff + b * T * C3 + h * HS;
        int dbase = dqkvOff + b * T * C3 + h * HS;
        for (int t = 0; t < T; t++) {
            int q = base + t * C3;
            int dq = dbase + t * C3;
            int dy = doutOff + (b * T + t) * C + h * HS;
            int end = causal ? t + 1 : T;
            float l = lse[lseOff + (b * NH + h) * T + t];
            long row = ((long) (b * NH + h) * T + t) * T;
            float dot = 0f; // sum over t2 of p * dp
            for (int t2 = 0; t2 < end; t2++) {
                if (segments != null && segments[b * T + t2] != segments[b * T + t]) {
                    sc[pOff + t2] = 0f;
                    sc[dOff + t2] = 0f;
                    continue;
                }
                int k = base + t2 * C3 + C;
                float s = dotFast(qkv, q, qkv, k, HS);
                float dp = dotFast(dout, dy, qkv, k + C, HS);
                float prob = (float) Math.exp(s * scale - l);
                float f = Dropout.factor(dropP, seed, stream, row + t2);
                if (f != 0f) {
                    axpyFast(prob * f, dout, dy, dqkv, dbase + t2 * C3 + 2 * C, HS); // dv += prob f dy
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
                axpyFast(ds, qkv, base + t2 * C3 + C, dqkv, dq, HS);         // dq += ds k
                axpyFast(ds, qkv, q, dqkv, dbase + t2 * C3 + C, HS);         // dk += ds q
            }
        }
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
            long row = ((long) (b * NH + h) * T + t) * T;
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
            float max = Float.NEGATIVE_INFINITY;
            for (int t2 = 0; t2 < len; t2++) {
                float s = (SIMD ? dotFast(q, qh, kc, kOff + t2 * C + h * HS, HS)
                        : dot(q, qh, kc, kOff + t2 * C + h * HS, HS)) * scale;
                p[pOff + t2] = s;
                max = Math.max(max, s);
            }
            double sum = 0;
            for (int t2 = 0; t2 < len; t2++) {
                float e = (float) Math.exp(p[pOff + t2] - max);
                p[pOff + t2] = e;
                sum += e;
            }
            float inv = (float) (1.0 / sum);
            int o = outOff + h * HS;
            for (int i = 0; i < HS; i++) {
                out[o + i] = 0f;
            }
            for (int t2 = 0; t2 < len; t2++) {
                float a = p[pOff + t2] * inv;
                int v = vOff + t2 * C + h * HS;
                if (SIMD) {
                    axpyFast(a, vc, v, out, o, HS);
                } else {
                    for (int i = 0; i < HS; i++) {
                        out[o + i] += a * vc[v + i];
                    }
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

    /** a[aOff..aOff+n) . b[bOff..bOff+n) in vectors, scalar tail. */
    static float dotFast(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    /** y[yOff..yOff+n) += alpha x[xOff..xOff+n) in vectors, scalar tail. */
    static void axpyFast(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, xOff + i).fma(FloatVector.broadcast(F, alpha), FloatVector.fromArray(F, y, yOff + i))
                    .intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += alpha * x[xOff + i];
        }
    }

    /** p[off..off+n) = exp(p - max) (exp(-inf) = 0), returning their sum. */
    static double expShiftSum(float[] p, int off, int n, float max) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector e = FloatVector.fromArray(F, p, off + i).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(p, off + i);
            acc = acc.add(e);
        }
        double sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = (float) Math.exp(p[off + i] - max);
            p[off + i] = e;
            sum += e;
        }
        return sum;
    }
}
