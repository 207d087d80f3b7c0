package rlhf.tensor;

/** GELU, tanh approximation (GPT-2's "gelu_new"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
public final class Gelu {

    private Gelu() {
    }

    private static final float S = (float) Math.sqrt(2.0 / Math.PI);

    /** inp (N) -> out (N). */
    public static void forward(float[] out, int outOff, float[] inp, int inpOff, int N) {
        for (int i = 0; i < N; i++) {
            float x = inp[inpOff + i];
            out[outOff + i] = 0.5f * x * (1f + (float) Math.tanh(S * (x + 0.044715f * x * x * x)));
        }
    }

    /** dout (N) -> dinp (N) +=, given the forward's inp. */
    public static void backward(float[] dinp, int dinpOff, float[] inp, int inpOff, float[] dout, int doutOff, int N) {
        for (int i = 0; i < N; i++) {
            float x = inp[inpOff + i];
            float u = S * (x + 0.044715f * x * x * x);
            float th = (float) Math.tanh(u);
            float sech2 = 1f - th * th;
            float grad = 0.5f * (1f + th) + 0.5f * x * sech2 * S * (1f + 3f * 0.044715f * x * x);
            dinp[dinpOff + i] += grad * dout[doutOff + i];
        }
    }
}
