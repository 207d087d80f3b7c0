package rlhf.tensor;

/**
 * Inverted dropout whose mask is a pure function of (seed, stream, index): element i of a tensor
 * is kept when {@code Rng.uniform(seed, stream, i) >= p} and then scaled by 1/(1-p). Backward
 * regenerates the same mask, so no mask is stored and results do not depend on threads.
 */
public final class Dropout {

    private Dropout() {
    }

    /** The factor element i is multiplied by: 0 (dropped) or 1/(1-p) (kept); 1 when p == 0. */
    public static float factor(float p, long seed, long stream, long i) {
        if (p == 0f) {
            return 1f;
        }
        return Rng.uniform(seed, stream, i) >= p ? 1f / (1f - p) : 0f;
    }

    /** inp (N) -> out (N); out may be inp (in place). */
    public static void forward(float[] out, int outOff, float[] inp, int inpOff, int N, float p, long seed, long stream) {
        if (p == 0f) {
            if (out != inp || outOff != inpOff) {
                System.arraycopy(inp, inpOff, out, outOff, N);
            }
            return;
        }
        float scale = 1f / (1f - p);
        for (int i = 0; i < N; i++) {
            out[outOff + i] = Rng.uniform(seed, stream, i) >= p ? inp[inpOff + i] * scale : 0f;
        }
    }

    /** dinp (N) += mask * dout (N). */
    public static void backward(float[] dinp, int dinpOff, float[] dout, int doutOff, int N, float p, long seed, long stream) {
        if (p == 0f) {
            for (int i = 0; i < N; i++) {
                dinp[dinpOff + i] += dout[doutOff + i];
            }
            return;
        }
        float scale = 1f / (1f - p);
        for (int i = 0; i < N; i++) {
            if (Rng.uniform(seed, stream, i) >= p) {
                dinp[dinpOff + i] += dout[doutOff + i] * scale;
            }
        }
    }

    /**
     * inp (B, rowLen) -> out (B, rowLen), row b masked by seeds[b]: element i of row b is a pure
     * function of (seeds[b], stream, i), so a row's mask does not depend on its companions or its
     * place in the batch. out may be inp (in place); seeds is unread (may be null) when p == 0.
     */
    public static void forwardRows(float[] out, int outOff, float[] inp, int inpOff, int B, int rowLen, float p,
                                   long[] seeds, long stream) {
        for (int b = 0; b < B; b++) {
            forward(out, outOff + b * rowLen, inp, inpOff + b * rowLen, rowLen, p, p == 0f ? 0L : seeds[b], stream);
        }
    }

    /** Backward of {@link #forwardRows}: dinp (B, rowLen) += mask * dout (B, rowLen). */
    public static void backwardRows(float[] dinp, int dinpOff, float[] dout, int doutOff, int B, int rowLen, float p,
                                    long[] seeds, long stream) {
        for (int b = 0; b < B; b++) {
            backward(dinp, dinpOff + b * rowLen, dout, doutOff + b * rowLen, rowLen, p, p == 0f ? 0L : seeds[b], stream);
        }
    }
}
