package rlhf.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Row-wise softmax and log-softmax over the last dimension, max-subtracted, sums in double.
 * {@link #logSumExp} and {@link #lmHeadGradient}, which run over (B·T, V) logits every training
 * step, use Vector API exponentials (float lanes summed in blocks, blocks in double);
 * {@code -Drlhf.simd=false} selects the scalar loops.
 */
public final class Softmax {

    private static final boolean SIMD = Attention.SIMD;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Vectors summed in float lanes before the block's sum is added in double. */
    private static final int BLOCK = 64;

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
        if (!SIMD) {
            return logSumExpReference(inp, off, V, scale);
        }
        int bound = F.loopBound(V);
        FloatVector vmax = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i < bound; i += F.length()) {
            vmax = vmax.max(FloatVector.fromArray(F, inp, off + i).mul(scale));
        }
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (; i < V; i++) {
            max = Math.max(max, inp[off + i] * scale);
        }
        double sum = 0;
        i = 0;
        while (i < bound) {
            FloatVector acc = FloatVector.zero(F);
            for (int end = Math.min(bound, i + BLOCK * F.length()); i < end; i += F.length()) {
                acc = acc.add(VectorMath.exp(FloatVector.fromArray(F, inp, off + i).fma(scale, -max)));
            }
            sum += acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < V; i++) {
            sum += Math.exp(inp[off + i] * scale - max);
        }
        return max + Math.log(sum);
    }

    /** The scalar {@link #logSumExp}. */
    public static double logSumExpReference(float[] inp, int off, int V, float scale) {
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

    /**
     * The LM head's logit gradient of one row, in place: with lp = x·inv - lse and p = exp(lp),
     * x := (-gl·p - ge·p·(lp + h))·inv over x = logits[off .. off+V). gl, ge: upstream gradients of
     * the row's log-probability and entropy, h its entropy; the target's +gl·inv is the caller's.
     */
    public static void lmHeadGradient(float[] logits, int off, int V, float inv, float lse, float gl, float ge,
                                      float h) {
        int i = 0;
        if (SIMD) {
            for (int bound = F.loopBound(V); i < bound; i += F.length()) {
                FloatVector lp = FloatVector.fromArray(F, logits, off + i).fma(inv, -lse);
                FloatVector p = VectorMath.exp(lp);
                FloatVector d = ge == 0f ? p.mul(-gl * inv) : p.mul(-gl).sub(p.mul(ge).mul(lp.add(h))).mul(inv);
                d.intoArray(logits, off + i);
            }
        }
        for (; i < V; i++) {
            float lp = logits[off + i] * inv - lse;
            float p = (float) Math.exp(lp);
            logits[off + i] = (-gl * p - ge * p * (lp + h)) * inv;
        }
    }
}
