package rlhf.tensor;

/** Residual add: out = a + b. */
public final class Residual {

    private Residual() {
    }

    /** a (N), b (N) -> out (N). */
    public static void forward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int N) {
        for (int i = 0; i < N; i++) {
            out[outOff + i] = a[aOff + i] + b[bOff + i];
        }
    }

    /** dout (N) -> da (N) +=, db (N) +=. */
    public static void backward(float[] da, int daOff, float[] db, int dbOff, float[] dout, int doutOff, int N) {
        for (int i = 0; i < N; i++) {
            float g = dout[doutOff + i];
            da[daOff + i] += g;
            db[dbOff + i] += g;
        }
    }
}
