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
 * Attention dropout drops probability (b,h,t,t2) by {@code Dropout.factor(p, seeds[b], stream,
 * dropIndex(h, t, t2))}: one seed per row and an index that depends neither on the row's place in
 * the batch nor on T, so an example gets the same mask alone, among other rows, or padded longer.
 *
 * <p>{@link #forward} and {@link #backward} are Vector API kernels: per (b, head) the keys (and
 * values) are copied, transposed, into a per-thread buffer, so a vector of 16 scores is HS FMAs
 * with no lane reductions, and queries go in blocks of 4 that share every key load; dk and dv
 * accumulate in that buffer too (rows 3C apart in qkv alias in the L1 cache). The passed scratch
 * serves the plain scalar {@code *Reference} kernels they are tested against; {@code -Drlhf.simd=false}
 * selects those. The fast ones sum in a different order and use the vector library's exp, so
 * results agree within float rounding.
 */
public final class Attention {

    static final boolean SIMD = !"false".equalsIgnoreCase(System.getProperty("rlhf.simd", "true").trim());
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

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
                if (SIMD) {
                    forwardHeadFast(out, outOff, lse, lseOff, qkv, qkvOff, segments, bh / NH, bh % NH, T, C, NH,
                            causal, dropP, dropP == 0f ? 0L : seeds[bh / NH], stream);
                } else {
                    forwardHead(out, outOff, lse, lseOff, qkv, qkvOff, segments, bh / NH, bh % NH, T, C, NH,
                            causal, dropP, dropP == 0f ? 0L : seeds[bh / NH], stream, scratch, scratchOff + bh * T);
                }
            }
        });
    }

    /** The plain scalar {@link #forward}, one (b, head) after another. */
    public static void forwardReference(float[] out, int outOff, float[] lse, int lseOff, float[] qkv, int qkvOff,
                                        int[] segments, int B, int T, int C, int NH, boolean causal,
                                        float dropP, long[] seeds, long stream, float[] scratch, int scratchOff) {
        for (int bh = 0; bh < B * NH; bh++) {
            forwardHead(out, outOff, lse, lseOff, qkv, qkvOff, segments, bh / NH, bh % NH, T, C, NH,
                    causal, dropP, dropP == 0f ? 0L : seeds[bh / NH], stream, scratch, scratchOff + bh * T);
        }
    }

    /**
     * {@link #forwardHead} vectorised: the head's keys are copied transposed (HS, Tp) into a
     * per-thread buffer so that 16 (a vector's worth of) scores come out of HS FMAs without lane
     * reductions; softmax with the vector exp; a·v accumulated in registers, four keys at a time.
     */
    private static void forwardHeadFast(float[] out, int outOff, float[] lse, int lseOff, float[] qkv, int qkvOff,
                                        int[] segments, int b, int h, int T, int C, int NH, boolean causal,
                                        float dropP, long seed, long stream) {
        int HS = C / NH;
        float scale = (float) (1.0 / Math.sqrt(HS));
        int C3 = 3 * C;
        int base = qkvOff + b * T * C3 + h * HS; // q of (b, t=0, h); k at +C, v at +2C
        int Tp = roundUp(T);
        float[] w = threadScratch(HS * Tp + T * HS + Q * Tp);
        int kt = 0;
        int vr = HS * Tp;      // values (T, HS) contiguous: rows 3C apart in qkv alias in the L1 cache
        int p0 = vr + T * HS;  // Q score rows of Tp
        transpose(qkv, base + C, C3, T, HS, w, kt, Tp);
        copyRows(qkv, base + 2 * C, C3, T, HS, w, vr);
        for (int t0 = 0; t0 < T; t0 += Q) {
            int nq = Math.min(Q, T - t0);
            scoresBlock(qkv, base + t0 * C3, C3, nq, w, kt, Tp, HS, causal ? t0 + nq : T, w, p0);
            for (int j = 0; j < nq; j++) {
                int t = t0 + j;
                int p = p0 + j * Tp;
                int end = causal ? t + 1 : T;
                float max = Float.NEGATIVE_INFINITY;
                int t2 = 0;
                if (segments == null) {
                    FloatVector vmax = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
                    for (int bound = F.loopBound(end); t2 < bound; t2 += F.length()) {
                        FloatVector s = FloatVector.fromArray(F, w, p + t2).mul(scale);
                        s.intoArray(w, p + t2);
                        vmax = vmax.max(s);
                    }
                    max = vmax.reduceLanes(VectorOperators.MAX);
                }
                for (; t2 < end; t2++) {
                    float s = segments != null && segments[b * T + t2] != segments[b * T + t]
                            ? Float.NEGATIVE_INFINITY : w[p + t2] * scale; // exp -> 0
                    w[p + t2] = s;
                    max = Math.max(max, s);
                }
                double sum = expShiftSum(w, p, end, max);
                lse[lseOff + (b * NH + h) * T + t] = max + (float) Math.log(sum);
                float inv = (float) (1.0 / sum);
                long row = dropIndex(h, t, 0);
                t2 = 0;
                if (dropP == 0f) {
                    for (int bound = F.loopBound(end); t2 < bound; t2 += F.length()) {
                        FloatVector.fromArray(F, w, p + t2).mul(inv).intoArray(w, p + t2);
                    }
                }
                for (; t2 < end; t2++) {
                    w[p + t2] *= inv * Dropout.factor(dropP, seed, stream, row + t2);
                }
                weightedRows(w, p, w, vr, HS, end, HS, 0f, out, outOff + (b * T + t) * C + h * HS);
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
                if (SIMD) {
                    backwardHeadFast(dqkv, dqkvOff, dout, doutOff, qkv, qkvOff, lse, lseOff, segments, bh / NH,
                            bh % NH, T, C, NH, causal, dropP, dropP == 0f ? 0L : seeds[bh / NH], stream);
                } else {
                    backwardHead(dqkv, dqkvOff, dout, doutOff, qkv, qkvOff, lse, lseOff, segments, bh / NH, bh % NH,
                            T, C, NH, causal, dropP, dropP == 0f ? 0L : seeds[bh / NH], stream, scratch, scratchOff + 2 * bh * T);
                }
            }
        });
    }

    /** The plain scalar {@link #backward}, one (b, head) after another. */
    public static void backwardReference(float[] dqkv, int dqkvOff, float[] dout, int doutOff, float[] qkv, int qkvOff,
                                         float[] lse, int lseOff, int[] segments, int B, int T, int C, int NH,
                                         boolean causal, float dropP, long[] seeds, long stream, float[] scratch,
                                         int scratchOff) {
        for (int bh = 0; bh < B * NH; bh++) {
            backwardHead(dqkv, dqkvOff, dout, doutOff, qkv, qkvOff, lse, lseOff, segments, bh / NH, bh % NH,
                    T, C, NH, causal, dropP, dropP == 0f ? 0L : seeds[bh / NH], stream, scratch, scratchOff + 2 * bh * T);
        }
    }

    /**
     * {@link #backwardHead} vectorised like {@link #forwardHeadFast}: keys and values transposed
     * into a per-thread buffer give the scores and d(prob) 16 at a time; dq accumulates in registers;
     * dk and dv are axpys into distinct rows.
     */
    private static void backwardHeadFast(float[] dqkv, int dqkvOff, float[] dout, int doutOff, float[] qkv, int qkvOff,
                                         float[] lse, int lseOff, int[] segments, int b, int h, int T, int C, int NH,
                                         boolean causal, float dropP, long seed, long stream) {
        int HS = C / NH;
        float scale = (float) (1.0 / Math.sqrt(HS));
        int C3 = 3 * C;
        int base = qkvOff + b * T * C3 + h * HS;
        int dbase = dqkvOff + b * T * C3 + h * HS;
        int ybase = doutOff + b * T * C + h * HS;
        int Tp = roundUp(T);
        int TH = T * HS;
        float[] w = threadScratch(2 * HS * Tp + 3 * TH + 2 * Q * Tp);
        int kt = 0;
        int vt = HS * Tp;
        int kr = 2 * HS * Tp;   // keys (T, HS) contiguous: rows 3C apart in qkv alias in the L1 cache
        int dk = kr + TH;       // dk, dv (T, HS) accumulated here, added to dqkv at the end
        int dv = dk + TH;
        int pr0 = dv + TH;      // Q rows: prob
        int dd0 = pr0 + Q * Tp; // Q rows: dprob · dropout factor, then dscore
        transpose(qkv, base + C, C3, T, HS, w, kt, Tp);
        transpose(qkv, base + 2 * C, C3, T, HS, w, vt, Tp);
        copyRows(qkv, base + C, C3, T, HS, w, kr);
        java.util.Arrays.fill(w, dk, dv + TH, 0f);
        boolean plain = segments == null && dropP == 0f;
        for (int t0 = 0; t0 < T; t0 += Q) {
            int nq = Math.min(Q, T - t0);
            int endBlock = causal ? t0 + nq : T;
            scoresBlock(qkv, base + t0 * C3, C3, nq, w, kt, Tp, HS, endBlock, w, pr0); // q·k
            scoresBlock(dout, ybase + t0 * C, C, nq, w, vt, Tp, HS, endBlock, w, dd0); // dy·v
            boolean blocked = nq == Q;
            for (int j = 0; j < nq; j++) {
                int t = t0 + j;
                int pr = pr0 + j * Tp;
                int dd = dd0 + j * Tp;
                int q = base + t * C3;
                int dy = ybase + t * C;
                int end = causal ? t + 1 : T;
                float l = lse[lseOff + (b * NH + h) * T + t];
                float dot = 0f; // sum over t2 of prob · dprob · f
                if (plain) {
                    FloatVector vdot = FloatVector.zero(F);
                    int t2 = 0;
                    for (int bound = F.loopBound(end); t2 < bound; t2 += F.length()) {
                        FloatVector prob = VectorMath.exp(FloatVector.fromArray(F, w, pr + t2).fma(scale, -l));
                        prob.intoArray(w, pr + t2);
                        vdot = prob.fma(FloatVector.fromArray(F, w, dd + t2), vdot);
                    }
                    dot = vdot.reduceLanes(VectorOperators.ADD);
                    for (; t2 < end; t2++) {
                        float prob = (float) Math.exp(w[pr + t2] * scale - l);
                        w[pr + t2] = prob;
                        dot += prob * w[dd + t2];
                    }
                    if (!blocked) {
                        for (t2 = 0; t2 < end; t2++) {
                            axpyFast(w[pr + t2], dout, dy, w, dv + t2 * HS, HS); // dv += prob dy
                        }
                    }
                } else {
                    long row = dropIndex(h, t, 0);
                    for (int t2 = 0; t2 < end; t2++) {
                        if (segments != null && segments[b * T + t2] != segments[b * T + t]) {
                            w[pr + t2] = 0f;
                            w[dd + t2] = 0f;
                            continue;
                        }
                        float prob = (float) Math.exp(w[pr + t2] * scale - l);
                        float f = Dropout.factor(dropP, seed, stream, row + t2);
                        // out = sum_t2 prob * f * v: dv += prob * f * dy; dprob = f * (dy . v)
                        if (f != 0f) {
                            axpyFast(prob * f, dout, dy, w, dv + t2 * HS, HS);
                        }
                        w[pr + t2] = prob;
                        w[dd + t2] *= f;
                        dot += prob * w[dd + t2];
                    }
                }
                // dscore = prob (dprob f - dot) scale, zero past this query's end (the block's rows share one length)
                int t2 = 0;
                for (int bound = F.loopBound(end); t2 < bound; t2 += F.length()) {
                    FloatVector.fromArray(F, w, dd + t2).sub(dot).mul(FloatVector.fromArray(F, w, pr + t2)).mul(scale)
                            .intoArray(w, dd + t2);
                }
                for (; t2 < end; t2++) {
                    w[dd + t2] = w[pr + t2] * (w[dd + t2] - dot) * scale;
                }
                for (t2 = end; t2 < endBlock; t2++) {
                    w[pr + t2] = 0f;
                    w[dd + t2] = 0f;
                }
                if (!blocked) {
                    for (t2 = 0; t2 < end; t2++) {
                        axpyFast(w[dd + t2], qkv, q, w, dk + t2 * HS, HS); // dk += dscore q
                    }
                }
                weightedRows(w, dd, w, kr, HS, end, HS, 1f, dqkv, dbase + t * C3); // dq += sum dscore k
            }
            if (blocked) {
                addOuter4(w, dd0, Tp, qkv, base + t0 * C3, C3, w, dk, HS, endBlock);     // dk += sum_j dscore_j q_j
                if (plain) {
                    addOuter4(w, pr0, Tp, dout, ybase + t0 * C, C, w, dv, HS, endBlock); // dv += sum_j prob_j dy_j
                }
            }
        }
        for (int t = 0; t < T; t++) {
            axpyFast(1f, w, dk + t * HS, dqkv, dbase + t * C3 + C, HS);
            axpyFast(1f, w, dv + t * HS, dqkv, dbase + t * C3 + 2 * C, HS);
        }
    }

    /**
     * y (n, HS) at yOff += sum over j < 4 of a[aOff + j·aStride + t2] · x_j for each row t2 < n,
     * x_j (HS) at xOff + j·xStride: each y vector loaded and stored once for four rank-1 updates.
     */
    private static void addOuter4(float[] a, int aOff, int aStride, float[] x, int xOff, int xStride, float[] y, int yOff,
                                  int HS, int n) {
        int a1 = aOff + aStride, a2 = aOff + 2 * aStride, a3 = aOff + 3 * aStride;
        int i = 0;
        for (int bound = F.loopBound(HS); i < bound; i += F.length()) {
            FloatVector x0 = FloatVector.fromArray(F, x, xOff + i);
            FloatVector x1 = FloatVector.fromArray(F, x, xOff + xStride + i);
            FloatVector x2 = FloatVector.fromArray(F, x, xOff + 2 * xStride + i);
            FloatVector x3 = FloatVector.fromArray(F, x, xOff + 3 * xStride + i);
            for (int t2 = 0; t2 < n; t2++) {
                int r = yOff + t2 * HS + i;
                x0.fma(FloatVector.broadcast(F, a[aOff + t2]), FloatVector.fromArray(F, y, r))
                        .add(x1.mul(a[a1 + t2]))
                        .add(x2.fma(FloatVector.broadcast(F, a[a2 + t2]), x3.mul(a[a3 + t2])))
                        .intoArray(y, r);
            }
        }
        for (; i < HS; i++) {
            for (int t2 = 0; t2 < n; t2++) {
                y[yOff + t2 * HS + i] += a[aOff + t2] * x[xOff + i] + a[a1 + t2] * x[xOff + xStride + i]
                        + a[a2 + t2] * x[xOff + 2 * xStride + i] + a[a3 + t2] * x[xOff + 3 * xStride + i];
            }
        }
    }

    /** Rows t < T of HS floats at off + t·stride -> dst (T, HS) at dstOff. */
    private static void copyRows(float[] src, int off, int stride, int T, int HS, float[] dst, int dstOff) {
        for (int t = 0; t < T; t++) {
            System.arraycopy(src, off + t * stride, dst, dstOff + t * HS, HS);
        }
    }

    /**
     * Row length of the transposed keys/values: T rounded up to whole vectors, plus one vector
     * when that is a multiple of 32 floats (128 bytes) so that the HS rows do not all fall into
     * the same few L1 cache sets.
     */
    private static int roundUp(int T) {
        int Tp = (T + F.length() - 1) / F.length() * F.length();
        return (Tp & 31) == 0 ? Tp + F.length() : Tp;
    }

    /** Per-thread working memory of the fast heads (transposed keys/values, score rows): grows, never shrinks. */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    private static float[] threadScratch(int n) {
        float[][] holder = SCRATCH.get();
        if (holder[0].length < n) {
            holder[0] = new float[n];
        }
        return holder[0];
    }

    /** Rows t < T of HS floats at off + t·stride -> dst (HS, Tp) at dstOff, columns T..Tp-1 zero. */
    private static void transpose(float[] src, int off, int stride, int T, int HS, float[] dst, int dstOff, int Tp) {
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < HS; i++) {
                dst[dstOff + i * Tp + t] = src[off + t * stride + i];
            }
        }
        for (int i = 0; i < HS; i++) {
            for (int t = T; t < Tp; t++) {
                dst[dstOff + i * Tp + t] = 0f;
            }
        }
    }

    /** Queries per block in the fast kernels: each vector of keys loaded serves Q score rows. */
    private static final int Q = 4;

    /**
     * Score rows of nq <= Q queries (rows of HS floats at xOff + j·xStride) against kt (HS, Tp):
     * s[sOff + j·Tp + t2] for t2 < n rounded up to a whole vector.
     */
    private static void scoresBlock(float[] x, int xOff, int xStride, int nq, float[] kt, int ktOff, int Tp, int HS,
                                    int n, float[] s, int sOff) {
        if (nq < Q) {
            for (int j = 0; j < nq; j++) {
                scores(x, xOff + j * xStride, kt, ktOff, Tp, HS, n, s, sOff + j * Tp);
            }
            return;
        }
        int x1 = xOff + xStride, x2 = xOff + 2 * xStride, x3 = xOff + 3 * xStride;
        for (int c = 0; c < n; c += F.length()) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int i = 0; i < HS; i++) {
                FloatVector k = FloatVector.fromArray(F, kt, ktOff + i * Tp + c);
                a0 = k.fma(FloatVector.broadcast(F, x[xOff + i]), a0);
                a1 = k.fma(FloatVector.broadcast(F, x[x1 + i]), a1);
                a2 = k.fma(FloatVector.broadcast(F, x[x2 + i]), a2);
                a3 = k.fma(FloatVector.broadcast(F, x[x3 + i]), a3);
            }
            a0.intoArray(s, sOff + c);
            a1.intoArray(s, sOff + Tp + c);
            a2.intoArray(s, sOff + 2 * Tp + c);
            a3.intoArray(s, sOff + 3 * Tp + c);
        }
    }

    /**
     * s[t2] = x · kt[:, t2] for t2 < n rounded up to a whole vector (s has room for that), with
     * x (HS) at xOff and kt (HS, Tp) at ktOff: broadcast x[i] times a vector of keys, four i at a time.
     */
    private static void scores(float[] x, int xOff, float[] kt, int ktOff, int Tp, int HS, int n, float[] s, int sOff) {
        for (int c = 0; c < n; c += F.length()) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            int i = 0;
            for (; i + 3 < HS; i += 4) {
                int k = ktOff + i * Tp + c;
                a0 = FloatVector.fromArray(F, kt, k).fma(FloatVector.broadcast(F, x[xOff + i]), a0);
                a1 = FloatVector.fromArray(F, kt, k + Tp).fma(FloatVector.broadcast(F, x[xOff + i + 1]), a1);
                a2 = FloatVector.fromArray(F, kt, k + 2 * Tp).fma(FloatVector.broadcast(F, x[xOff + i + 2]), a2);
                a3 = FloatVector.fromArray(F, kt, k + 3 * Tp).fma(FloatVector.broadcast(F, x[xOff + i + 3]), a3);
            }
            for (; i < HS; i++) {
                a0 = FloatVector.fromArray(F, kt, ktOff + i * Tp + c).fma(FloatVector.broadcast(F, x[xOff + i]), a0);
            }
            a0.add(a1).add(a2.add(a3)).intoArray(s, sOff + c);
        }
    }

    /**
     * out (HS) at outOff = keep·out + sum over t2 < n of a[aOff + t2] · row t2 (HS floats at
     * off + t2·stride): a vector of the head at a time, four rows at a time in independent registers.
     */
    private static void weightedRows(float[] a, int aOff, float[] src, int off, int stride, int n, int HS, float keep,
                                     float[] out, int outOff) {
        int i = 0;
        for (int bound = F.loopBound(HS); i < bound; i += F.length()) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            int t2 = 0;
            for (; t2 + 3 < n; t2 += 4) {
                int r = off + t2 * stride + i;
                a0 = FloatVector.fromArray(F, src, r).fma(FloatVector.broadcast(F, a[aOff + t2]), a0);
                a1 = FloatVector.fromArray(F, src, r + stride).fma(FloatVector.broadcast(F, a[aOff + t2 + 1]), a1);
                a2 = FloatVector.fromArray(F, src, r + 2 * stride).fma(FloatVector.broadcast(F, a[aOff + t2 + 2]), a2);
                a3 = FloatVector.fromArray(F, src, r + 3 * stride).fma(FloatVector.broadcast(F, a[aOff + t2 + 3]), a3);
            }
            for (; t2 < n; t2++) {
                a0 = FloatVector.fromArray(F, src, off + t2 * stride + i).fma(FloatVector.broadcast(F, a[aOff + t2]), a0);
            }
            FloatVector sum = a0.add(a1).add(a2.add(a3));
            if (keep != 0f) {
                sum = sum.add(FloatVector.fromArray(F, out, outOff + i));
            }
            sum.intoArray(out, outOff + i);
        }
        for (; i < HS; i++) {
            float acc = keep != 0f ? out[outOff + i] : 0f;
            for (int t2 = 0; t2 < n; t2++) {
                acc += a[aOff + t2] * src[off + t2 * stride + i];
            }
            out[outOff + i] = acc;
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
                p[pOff + t2] = (SIMD ? dotFast(q, qh, kc, kOff + t2 * C + h * HS, HS)
                        : dot(q, qh, kc, kOff + t2 * C + h * HS, HS)) * scale;
            }
            Softmax.forward(p, pOff, p, pOff, 1, len);
            int o = outOff + h * HS;
            for (int i = 0; i < HS; i++) {
                out[o + i] = 0f;
            }
            for (int t2 = 0; t2 < len; t2++) {
                float a = p[pOff + t2];
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
            FloatVector e = VectorMath.exp(FloatVector.fromArray(F, p, off + i).sub(max));
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
