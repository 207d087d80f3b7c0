package rlhf.tensor;

/** GELU, tanh approximation (GPT-2's "gelu_new"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
public final class Gelu {

    private Gelu() {
    }

    private static final float S = (float) Math.sqrt(2.0 / Math.PI);

    /** Elements per parallel chunk. */
    private static final int GRAIN = 1 << 14;

    /** inp (N) -> out (N). */
    public static void forward(float[] out, int outOff, float[] inp, int inpOff, int N) {
        Parallel.forRange(N, GRAIN, (from, to) -> {
            for (int i = from; i < to; i++) {
                float x = inp[inpOff + i];
                out[outOff + i] = 0.5f * x * (1f + tanh(S * (x + 0.044715f * x * x * x)));
            }
        });
    }

    /** dout (N) -> dinp (N) +=, given the forward's inp. */
    public static void backward(float[] dinp, int dinpOff, float[] inp, int inpOff, float[] dout, int doutOff, int N) {
        Parallel.forRange(N, GRAIN, (from, to) -> backwardRange(dinp, dinpOff, inp, inpOff, dout, doutOff, from, to));
    }

    /** tanh via one exp (Math.tanh is several times slower): 1 - 2 / (e^(2u) + 1), exact at both tails. */
    static float tanh(float u) {
        return (float) (1.0 - 2.0 / (Math.exp(2.0 * u) + 1.0));
    }

    private static void backwardRange(float[] dinp, int dinpOff, float[] inp, int inpOff, float[] dout, int doutOff,
                                      int from, int to) {
        for (int i = from; i < to; i++) {
            float x = inp[inpOff + i];
            float u = S * (x + 0.044715f * x * x * x);
            float th = tanh(u);
            float sech2 = 1f - th * th;
            float grad = 0.5f * (1f + th) + 0.5f * x * sech2 * S * (1f + 3f * 0.044715f * x * x);
            dinp[dinpOff + i] += grad * dout[doutOff + i];
        }
    }
}
