package rlhf.tensor;

/**
 * LayerNorm over the last dimension: {@code out = (inp - mean) * rstd * w + b}.
 * Statistics in double for stability; mean and rstd are kept for backward.
 */
public final class LayerNorm {

    private LayerNorm() {
    }

    /** inp (N,C), w (C), b (C) -> out (N,C), mean (N), rstd (N). */
    public static void forward(float[] out, int outOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                               float[] inp, int inpOff, float[] w, int wOff, float[] b, int bOff,
                               int N, int C, float eps) {
        Parallel.forRange(N, ROWS, (from, to) -> {
            for (int n = from; n < to; n++) {
                forwardRow(out, outOff, mean, meanOff, rstd, rstdOff, inp, inpOff, w, wOff, b, bOff, n, C, eps);
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
                backwardRow(dinp, dinpOff, dout, doutOff, inp, inpOff, w, wOff, mean, meanOff, rstd, rstdOff, n, C);
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
}
