package rlhf.tensor;

/** Row-wise softmax and log-softmax over the last dimension, max-subtracted, sums in double. */
public final class Softmax {

    private Softmax() {
    }

    /** inp (N,V) -> out (N,V), each row sums to 1. */
    public static void forward(float[] out, int outOff, float[] inp, int inpOff, int N, int V) {
        for (int n = 0; n < N; n++) {
            int x = inpOff + n * V;
            int o = outOff + n * V;
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < V; i++) {
                max = Math.max(max, inp[x + i]);
            }
            double sum = 0;
            for (int i = 0; i < V; i++) {
                float e = (float) Math.exp(inp[x + i] - max);
                out[o + i] = e;
                sum += e;
            }
            float inv = (float) (1.0 / sum);
            for (int i = 0; i < V; i++) {
                out[o + i] *= inv;
            }
        }
    }

    /** dout (N,V) -> dinp (N,V) += out * (dout - sum(dout * out)), given the forward's out. */
    public static void backward(float[] dinp, int dinpOff, float[] out, int outOff, float[] dout, int doutOff, int N, int V) {
        for (int n = 0; n < N; n++) {
            int o = outOff + n * V;
            int d = doutOff + n * V;
            double dot = 0;
            for (int i = 0; i < V; i++) {
                dot += dout[d + i] * out[o + i];
            }
            int di = dinpOff + n * V;
            for (int i = 0; i < V; i++) {
                dinp[di + i] += out[o + i] * (dout[d + i] - (float) dot);
            }
        }
    }

    /** Log of the sum of exponentials of inp[off .. off+V) times scale, computed stably. */
    public static double logSumExp(float[] inp, int off, int V, float scale) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < V; i++) {
            max = Math.max(max, inp[off + i] * scale);
        }
        double sum = 0;
        for (int i = 0; i < V; i++) {
            sum += Math.exp(inp[off + i] * scale - max);
        }
        return max + Math.log(sum);
    }

    /** inp (N,V) -> out (N,V) = inp - logsumexp(inp) per row. */
    public static void logForward(float[] out, int outOff, float[] inp, int inpOff, int N, int V) {
        for (int n = 0; n < N; n++) {
            float lse = (float) logSumExp(inp, inpOff + n * V, V, 1f);
            for (int i = 0; i < V; i++) {
                out[outOff + n * V + i] = inp[inpOff + n * V + i] - lse;
            }
        }
    }

    /** dout (N,V) -> dinp (N,V) += dout - exp(out) * sum(dout), given the forward's out (log-probs). */
    public static void logBackward(float[] dinp, int dinpOff, float[] out, int outOff, float[] dout, int doutOff, int N, int V) {
        for (int n = 0; n < N; n++) {
            double sum = 0;
            for (int i = 0; i < V; i++) {
                sum += dout[doutOff + n * V + i];
            }
            for (int i = 0; i < V; i++) {
                dinp[dinpOff + n * V + i] += dout[doutOff + n * V + i]
                        - (float) Math.exp(out[outOff + n * V + i]) * (float) sum;
            }
        }
    }
}
