package rlhf.tensor;

/**
 * Matrix products of a linear layer with weights stored {@code [out, in]}.
 *
 * <pre>
 * forward:   out (BT,OC)  = inp (BT,C) · w (OC,C)^T + bias (OC)
 * backward:  dinp (BT,C) += dout (BT,OC) · w (OC,C)
 *            dw (OC,C)   += dout^T (OC,BT) · inp (BT,C)
 *            dbias (OC)  += sum over BT of dout
 * </pre>
 *
 * All arrays carry an offset so that views into the flat parameter and activation buffers can
 * be passed without copying. {@code bias} / {@code dbias} may be null. Backward accumulates;
 * zeroing gradients is the caller's explicit step.
 *
 * <p>{@code forward}/{@code backward} are the fast kernels ({@link MatmulGemm}: packed, blocked,
 * Vector API, parallel over {@link Parallel} with deterministic results); {@code *Reference} are
 * the plain kernels they are tested against on odd shapes. They agree within float rounding (the
 * fast ones sum in a different order).
 */
public final class Matmul {

    /** {@code -Drlhf.simd=false} selects the plain scalar reference kernels (debugging, odd JVMs). */
    static final boolean SIMD = !"false".equalsIgnoreCase(System.getProperty("rlhf.simd", "true").trim());

    private Matmul() {
    }

    public static void forward(float[] out, int outOff, float[] inp, int inpOff, float[] w, int wOff,
                               float[] bias, int biasOff, int BT, int C, int OC) {
        if (!SIMD) {
            forwardReference(out, outOff, inp, inpOff, w, wOff, bias, biasOff, BT, C, OC);
        } else if (BT < MatmulGemm.SMALL_M) {
            MatmulGemm.forwardFewRows(out, outOff, inp, inpOff, w, wOff, bias, biasOff, BT, C, OC);
        } else {
            // a = inp (BT,C); b(k=c, n=oc) = w[oc*C + c], a transposed view of w whose packing
            // costs most: split over output channels so each thread packs only its share of w
            MatmulGemm.gemm(BT, OC, C, inp, inpOff, C, 1, w, wOff, 1, C, out, outOff, OC, bias, biasOff, true, true);
        }
    }

    public static void backward(float[] dinp, int dinpOff, float[] dw, int dwOff, float[] dbias, int dbiasOff,
                                float[] dout, int doutOff, float[] inp, int inpOff, float[] w, int wOff,
                                int BT, int C, int OC) {
        if (!SIMD) {
            backwardReference(dinp, dinpOff, dw, dwOff, dbias, dbiasOff, dout, doutOff, inp, inpOff, w, wOff, BT, C, OC);
            return;
        }
        if (dinp != null) {
            // dinp (BT,C) += dout (BT,OC) · w (OC,C), split over rows bt
            MatmulGemm.gemm(BT, C, OC, dout, doutOff, OC, 1, w, wOff, C, 1, dinp, dinpOff, C, null, 0, false, false);
        }
        if (dw != null) {
            // dw (OC,C) += dout^T (OC,BT) · inp (BT,C): a(m=oc, k=bt) = dout[bt*OC + oc], split over oc
            MatmulGemm.gemm(OC, C, BT, dout, doutOff, 1, OC, inp, inpOff, C, 1, dw, dwOff, C, null, 0, false, false);
        }
        if (dbias != null) {
            MatmulGemm.biasBackward(dbias, dbiasOff, dout, doutOff, BT, OC);
        }
    }

    /** Reference: one dot product per output element. */
    public static void forwardReference(float[] out, int outOff, float[] inp, int inpOff, float[] w, int wOff,
                                        float[] bias, int biasOff, int BT, int C, int OC) {
        for (int bt = 0; bt < BT; bt++) {
            int in = inpOff + bt * C;
            int o = outOff + bt * OC;
            for (int oc = 0; oc < OC; oc++) {
                float acc = bias == null ? 0f : bias[biasOff + oc];
                int wr = wOff + oc * C;
                for (int i = 0; i < C; i++) {
                    acc += inp[in + i] * w[wr + i];
                }
                out[o + oc] = acc;
            }
        }
    }

    /** Reference backward; dinp or dw may be null when that gradient is not wanted. */
    public static void backwardReference(float[] dinp, int dinpOff, float[] dw, int dwOff, float[] dbias, int dbiasOff,
                                         float[] dout, int doutOff, float[] inp, int inpOff, float[] w, int wOff,
                                         int BT, int C, int OC) {
        if (dinp != null) {
            for (int bt = 0; bt < BT; bt++) {
                int d = doutOff + bt * OC;
                int di = dinpOff + bt * C;
                for (int oc = 0; oc < OC; oc++) {
                    float g = dout[d + oc];
                    int wr = wOff + oc * C;
                    for (int i = 0; i < C; i++) {
                        dinp[di + i] += g * w[wr + i];
                    }
                }
            }
        }
        for (int oc = 0; oc < OC; oc++) {
            int wr = dwOff + oc * C;
            float db = 0f;
            for (int bt = 0; bt < BT; bt++) {
                float g = dout[doutOff + bt * OC + oc];
                db += g;
                if (dw != null) {
                    int in = inpOff + bt * C;
                    for (int i = 0; i < C; i++) {
                        dw[wr + i] += g * inp[in + i];
                    }
                }
            }
            if (dbias != null) {
                dbias[dbiasOff + oc] += db;
            }
        }
    }
}
