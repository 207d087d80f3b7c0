package rlhf.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * LayerNorm over the last dimension: {@code out = (inp - mean) * rstd * w + b}.
 * Statistics in double for stability (the Vector API rows sum C/16 values per float lane, then
 * the lanes in double; {@code -Drlhf.simd=false} selects the scalar rows); mean and rstd are kept
 * for backward.
 */
public final class LayerNorm {

    private static final boolean SIMD = Attention.SIMD;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private LayerNorm() {
    }

    /** inp (N,C), w (C), b (C) -> out (N,C), mean (N), rstd (N). */
    public static void forward(float[] out, int outOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                               float[] inp, int inpOff, float[] w, int wOff, float[] b, int bOff,
                               int N, int C, float eps) {
        Parallel.forRange(N, ROWS, (from, to) -> {
            for (int n = from; n < to; n++) {
                if (SIMD) {
                    forwardRowFast(out, outOff, mean, meanOff, rstd, rstdOff, inp, inpOff, w, wOff, b, bOff, n, C, eps);
                } else {
                    forwardRow(out, outOff, mean, meanOff, rstd, rstdOff, inp, inpOff, w, wOff, b, bOff, n, C, eps);
                }
            }
        });
    }

    /** Rows per parallel chunk. */
    private static final int ROWS = 32;

    private static void forwardRow(float[] out, int outOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                                   float[] inp, int inpOff, float[] w, int wOff, float[] b, int bOff,
                                   int n, int C, float eps) {
        int x = inpOff + n * C;
        double m = 0;
        for (int i = 0; i < C; i++) {
            m += inp[x + i];
        }
        m /= C;
        double v = 0;
        for (int i = 0; i < C; i++) {
            double d = inp[x + i] - m;
            v += d * d;
        }
        v /= C;
        float s = (float) (1.0 / Math.sqrt(v + eps));
        float mf = (float) m;
        int o = outOff + n * C;
        for (int i = 0; i < C; i++) {
            out[o + i] = (inp[x + i] - mf) * s * w[wOff + i] + b[bOff + i];
        }
        if (mean != null) {
            mean[meanOff + n] = mf;
            rstd[rstdOff + n] = s;
        }
    }

    /** dout (N,C) -> dinp (N,C) +=, dw (C) +=, db (C) +=, given the forward's inp, mean, rstd. */
    public static void backward(float[] dinp, int dinpOff, float[] dw, int dwOff, float[] db, int dbOff,
                                float[] dout, int doutOff, float[] inp, int inpOff, float[] w, int wOff,
                                float[] mean, int meanOff, float[] rstd, int rstdOff, int N, int C) {
        // dinp: independent rows
        Parallel.forRange(N, ROWS, (from, to) -> {
            for (int n = from; n < to; n++) {
                if (SIMD) {
                    backwardRowFast(dinp, dinpOff, dout, doutOff, inp, inpOff, w, wOff, mean, meanOff, rstd, rstdOff, n, C);
                } else {
                    backwardRow(dinp, dinpOff, dout, doutOff, inp, inpOff, w, wOff, mean, meanOff, rstd, rstdOff, n, C);
                }
            }
        });
        // dw, db: sums over rows, split by column so each column has one owner
        Parallel.forRange(C, 16, (from, to) -> {
            for (int n = 0; n < N; n++) {
                int x = inpOff + n * C;
                int d = doutOff + n * C;
                float m = mean[meanOff + n];
                float s = rstd[rstdOff + n];
                for (int i = from; i < to; i++) {
                    float g = dout[d + i];
                    db[dbOff + i] += g;
                    dw[dwOff + i] += (inp[x + i] - m) * s * g;
                }
            }
        });
    }

    private static void backwardRow(float[] dinp, int dinpOff, float[] dout, int doutOff, float[] inp, int inpOff,
                                    float[] w, int wOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                                    int n, int C) {
        int x = inpOff + n * C;
        int d = doutOff + n * C;
        float m = mean[meanOff + n];
        float s = rstd[rstdOff + n];
        // dnorm = dout * w; dinp = s * (dnorm - mean(dnorm) - norm * mean(dnorm * norm))
        float dnormMean = 0f;
        float dnormNormMean = 0f;
        for (int i = 0; i < C; i++) {
            float norm = (inp[x + i] - m) * s;
            float dnorm = dout[d + i] * w[wOff + i];
            dnormMean += dnorm;
            dnormNormMean += dnorm * norm;
        }
        dnormMean /= C;
        dnormNormMean /= C;
        int di = dinpOff + n * C;
        for (int i = 0; i < C; i++) {
            float norm = (inp[x + i] - m) * s;
            float g = dout[d + i];
            dinp[di + i] += s * (g * w[wOff + i] - dnormMean - norm * dnormNormMean);
        }
    }

    /** {@link #forwardRow} in vectors: lane sums in float, lanes added in double. */
    private static void forwardRowFast(float[] out, int outOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                                       float[] inp, int inpOff, float[] w, int wOff, float[] b, int bOff,
                                       int n, int C, float eps) {
        int x = inpOff + n * C;
        int bound = F.loopBound(C);
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i < bound; i += F.length()) {
            acc = acc.add(FloatVector.fromArray(F, inp, x + i));
        }
        double m = acc.reduceLanes(VectorOperators.ADD);
        for (; i < C; i++) {
            m += inp[x + i];
        }
        m /= C;
        float mf = (float) m;
        acc = FloatVector.zero(F);
        for (i = 0; i < bound; i += F.length()) {
            FloatVector d = FloatVector.fromArray(F, inp, x + i).sub(mf);
            acc = d.fma(d, acc);
        }
        double v = acc.reduceLanes(VectorOperators.ADD);
        for (; i < C; i++) {
            double d = inp[x + i] - m;
            v += d * d;
        }
        v /= C;
        float s = (float) (1.0 / Math.sqrt(v + eps));
        int o = outOff + n * C;
        for (i = 0; i < bound; i += F.length()) {
            FloatVector.fromArray(F, inp, x + i).sub(mf).mul(s)
                    .fma(FloatVector.fromArray(F, w, wOff + i), FloatVector.fromArray(F, b, bOff + i))
                    .intoArray(out, o + i);
        }
        for (; i < C; i++) {
            out[o + i] = (inp[x + i] - mf) * s * w[wOff + i] + b[bOff + i];
        }
        if (mean != null) {
            mean[meanOff + n] = mf;
            rstd[rstdOff + n] = s;
        }
    }

    /** {@link #backwardRow} in vectors. */
    private static void backwardRowFast(float[] dinp, int dinpOff, float[] dout, int doutOff, float[] inp, int inpOff,
                                        float[] w, int wOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                                        int n, int C) {
        int x = inpOff + n * C;
        int d = doutOff + n * C;
        float m = mean[meanOff + n];
        float s = rstd[rstdOff + n];
        int bound = F.loopBound(C);
        FloatVector accMean = FloatVector.zero(F);
        FloatVector accNorm = FloatVector.zero(F);
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector norm = FloatVector.fromArray(F, inp, x + i).sub(m).mul(s);
            FloatVector dnorm = FloatVector.fromArray(F, dout, d + i).mul(FloatVector.fromArray(F, w, wOff + i));
            accMean = accMean.add(dnorm);
            accNorm = dnorm.fma(norm, accNorm);
        }
        float dnormMean = accMean.reduceLanes(VectorOperators.ADD);
        float dnormNormMean = accNorm.reduceLanes(VectorOperators.ADD);
        for (; i < C; i++) {
            float norm = (inp[x + i] - m) * s;
            float dnorm = dout[d + i] * w[wOff + i];
            dnormMean += dnorm;
            dnormNormMean += dnorm * norm;
        }
        dnormMean /= C;
        dnormNormMean /= C;
        int di = dinpOff + n * C;
        for (i = 0; i < bound; i += F.length()) {
            FloatVector norm = FloatVector.fromArray(F, inp, x + i).sub(m).mul(s);
            FloatVector dnorm = FloatVector.fromArray(F, dout, d + i).mul(FloatVector.fromArray(F, w, wOff + i));
            dnorm.sub(dnormMean).sub(norm.mul(dnormNormMean))
                    .fma(FloatVector.broadcast(F, s), FloatVector.fromArray(F, dinp, di + i)).intoArray(dinp, di + i);
        }
        for (; i < C; i++) {
            float norm = (inp[x + i] - m) * s;
            float g = dout[d + i];
            dinp[di + i] += s * (g * w[wOff + i] - dnormMean - norm * dnormNormMean);
        }
    }
}
