package rlhf.tensor;

/**
 * Token + position embedding: {@code out[b,t] = wte[tokens[b,t]] + wpe[positions[b,t]]}.
 * Positions are given per token so packed examples can restart at 0; {@code positions == null}
 * means 0..T-1 in every row. With sinusoidal positions {@code wpe} is the fixed table from
 * {@link #sinusoids} and its gradient is not wanted ({@code dwpe == null}).
 */
public final class Encoder {

    private Encoder() {
    }

    /** tokens (B,T), positions (B,T) or null, wte (V,C), wpe (maxT,C) -> out (B,T,C). */
    public static void forward(float[] out, int outOff, int[] tokens, int[] positions, float[] wte, int wteOff,
                               float[] wpe, int wpeOff, int B, int T, int C, int V, int maxT) {
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                int bt = b * T + t;
                int tok = tokens[bt];
                int pos = positions == null ? t : positions[bt];
                check(tok, pos, b, t, V, maxT);
                int o = outOff + bt * C;
                int we = wteOff + tok * C;
                int pe = wpeOff + pos * C;
                for (int i = 0; i < C; i++) {
                    out[o + i] = wte[we + i] + wpe[pe + i];
                }
            }
        }
    }

    /** dout (B,T,C) -> dwte (V,C) +=, dwpe (maxT,C) += (dwpe may be null). */
    public static void backward(float[] dwte, int dwteOff, float[] dwpe, int dwpeOff, float[] dout, int doutOff,
                                int[] tokens, int[] positions, int B, int T, int C) {
        for (int bt = 0; bt < B * T; bt++) {
            int d = doutOff + bt * C;
            int we = dwteOff + tokens[bt] * C;
            for (int i = 0; i < C; i++) {
                dwte[we + i] += dout[d + i];
            }
            if (dwpe != null) {
                int pe = dwpeOff + (positions == null ? bt % T : positions[bt]) * C;
                for (int i = 0; i < C; i++) {
                    dwpe[pe + i] += dout[d + i];
                }
            }
        }
    }

    /**
     * The fixed position table of "Attention Is All You Need": row pos, column 2i is
     * sin(pos / 10000^(2i/C)), column 2i+1 the cosine of the same angle. -> (maxT, C).
     */
    public static float[] sinusoids(int maxT, int C) {
        float[] pe = new float[maxT * C];
        for (int pos = 0; pos < maxT; pos++) {
            for (int i = 0; i < C; i += 2) {
                double angle = pos / Math.pow(10000.0, (double) i / C);
                pe[pos * C + i] = (float) Math.sin(angle);
                if (i + 1 < C) {
                    pe[pos * C + i + 1] = (float) Math.cos(angle);
                }
            }
        }
        return pe;
    }

    private static void check(int tok, int pos, int b, int t, int V, int maxT) {
        if (tok < 0 || tok >= V) {
            throw new IllegalArgumentException("token id " + tok + " at row " + b + ", position " + t
                    + " is outside the vocabulary [0, " + V + ")");
        }
        if (pos < 0 || pos >= maxT) {
            throw new IllegalArgumentException("position " + pos + " at row " + b + ", index " + t
                    + " is outside the context [0, " + maxT + ")");
        }
    }
}
