package rlhf.tensor;

/** ReLU: max(0, x). */
public final class Relu {

    private Relu() {
    }

    /** inp (N) -> out (N). */
    public static void forward(float[] out, int outOff, float[] inp, int inpOff, int N) {
        for (int i = 0; i < N; i++) {
            float x = inp[inpOff + i];
            out[outOff + i] = x > 0f ? x : 0f;
        }
    }

    /** dout (N) -> dinp (N) +=, given the forward's inp. */
    public static void backward(float[] dinp, int dinpOff, float[] inp, int inpOff, float[] dout, int doutOff, int N) {
        for (int i = 0; i < N; i++) {
            if (inp[inpOff + i] > 0f) {
                dinp[dinpOff + i] += dout[doutOff + i];
            }
        }
    }
}
