package rlhf.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * GELU, tanh approximation (GPT-2's "gelu_new"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 * Vector API with the vector library's tanh (a scalar tanh per element cost as much as a matmul
 * layer's worth of FMAs); {@code -Drlhf.simd=false} selects the scalar loops.
 */
public final class Gelu {

    private static final boolean SIMD = Attention.SIMD;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private Gelu() {
    }

    private static final float S = (float) Math.sqrt(2.0 / Math.PI);

    /** Elements per parallel chunk. */
    private static final int GRAIN = 1 << 14;

    /** inp (N) -> out (N). */
    public static void forward(float[] out, int outOff, float[] inp, int inpOff, int N) {
        Parallel.forRange(N, GRAIN, (from, to) -> {
            int i = from;
            if (SIMD) {
                for (int bound = from + F.loopBound(to - from); i < bound; i += F.length()) {
                    FloatVector x = FloatVector.fromArray(F, inp, inpOff + i);
                    FloatVector u = x.mul(x).fma(0.044715f, 1f).mul(x).mul(S);
                    x.mul(0.5f).mul(VectorMath.tanh(u).add(1f)).intoArray(out, outOff + i);
                }
            }
            for (; i < to; i++) {
                float x = inp[inpOff + i];
                out[outOff + i] = 0.5f * x * (1f + tanh(S * (x + 0.044715f * x * x * x)));
            }
        });
    }

    /** dout (N) -> dinp (N) +=, given the forward's inp. */
    public static void backward(float[] dinp, int dinpOff, float[] inp, int inpOff, float[] dout, int doutOff, int N) {
        Parallel.forRange(N, GRAIN, (from, to) -> backwardRange(dinp, dinpOff, inp, inpOff, dout, doutOff, from, to, true));
    }

    /** dout (N) -> dinp (N) = (overwritten, not accumulated), given the forward's inp; saves zeroing dinp first. */
    public static void backwardSet(float[] dinp, int dinpOff, float[] inp, int inpOff, float[] dout, int doutOff, int N) {
        Parallel.forRange(N, GRAIN, (from, to) -> backwardRange(dinp, dinpOff, inp, inpOff, dout, doutOff, from, to, false));
    }

    /** tanh via one exp (Math.tanh is several times slower): 1 - 2 / (e^(2u) + 1), exact at both tails. */
    static float tanh(float u) {
        return (float) (1.0 - 2.0 / (Math.exp(2.0 * u) + 1.0));
    }

    private static void backwardRange(float[] dinp, int dinpOff, float[] inp, int inpOff, float[] dout, int doutOff,
                                      int from, int to, boolean accumulate) {
        int i = from;
        if (SIMD) {
            for (int bound = from + F.loopBound(to - from); i < bound; i += F.length()) {
                FloatVector x = FloatVector.fromArray(F, inp, inpOff + i);
                FloatVector x2 = x.mul(x);
                FloatVector th = VectorMath.tanh(x2.fma(0.044715f, 1f).mul(x).mul(S));
                FloatVector sech2 = th.mul(th).neg().add(1f);
                // 0.5 (1 + th) + 0.5 x sech2 S (1 + 3·0.044715 x²)
                FloatVector grad = x.mul(0.5f * S).mul(sech2).mul(x2.fma(3f * 0.044715f, 1f)).add(th.fma(0.5f, 0.5f));
                FloatVector d = FloatVector.fromArray(F, dout, doutOff + i);
                (accumulate ? grad.fma(d, FloatVector.fromArray(F, dinp, dinpOff + i)) : grad.mul(d))
                        .intoArray(dinp, dinpOff + i);
            }
        }
        for (; i < to; i++) {
            float x = inp[inpOff + i];
            float u = S * (x + 0.044715f * x * x * x);
            float th = tanh(u);
            float sech2 = 1f - th * th;
            float grad = 0.5f * (1f + th) + 0.5f * x * sech2 * S * (1f + 3f * 0.044715f * x * x);
            dinp[dinpOff + i] = (accumulate ? dinp[dinpOff + i] : 0f) + grad * dout[doutOff + i];
        }
    }
}
