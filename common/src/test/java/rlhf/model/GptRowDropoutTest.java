package rlhf.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import rlhf.tensor.GradCheck;

/**
 * With one dropout seed per row, an example's masks do not depend on its batch: a row alone
 * (B=1, T=16) and the same row at index 1 of a batch of 3 padded to T=20, among other rows,
 * give bit-identical hidden states, log-probabilities and parameter gradients (dropout 0.2 at
 * every site, training). BT >= 16 in both, so the matmuls take the same (packed) path.
 */
class GptRowDropoutTest {

    static final GptConfig CFG = GptConfig.gpt2(13, 32, 2, 2, 16).withDropout(0.2f, 0.2f, 0.2f);
    static final int T1 = 16, TB = 20, B = 3, ROW = 1;
    static final long SEED = 0x5EEDL;

    /** What one forward/backward leaves for the row under test. */
    record Row(float[] hidden, float[] logp, float[] grads) {
    }

    static Row run(float[] params, int[] row, long seed, boolean alone) {
        int Bn = alone ? 1 : B, T = alone ? T1 : TB, at = alone ? 0 : ROW, C = CFG.nEmbd();
        int[] tokens = new int[Bn * T];
        int[] targets = new int[Bn * T];
        Arrays.fill(targets, -1); // padding and companion rows: no gradient
        float[] noise = GradCheck.random(Bn * T, 6.5f, 3);
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (int) (noise[i] + 6.5f) % 13; // companions (and padding) are other tokens
        }
        System.arraycopy(row, 0, tokens, at * T, T1);
        for (int t = 0; t + 1 < T1; t++) {
            targets[at * T + t] = row[t + 1];
        }
        long[] seeds = alone ? new long[] {seed} : new long[] {-5L, seed, 99L};
        Gpt gpt = new Gpt(CFG, B, TB);
        gpt.forward(params, tokens, null, null, Bn, T, true, seeds);
        float[] logp = new float[Bn * T];
        gpt.lmHeadForward(params, targets, 1f, logp, null);
        float[] dlogp = GradCheck.random(Bn * T, 1f, 4); // nonzero everywhere, read only where targets >= 0
        System.arraycopy(GradCheck.random(T1, 1f, 5), 0, dlogp, at * T, T1);
        float[] grads = new float[params.length];
        gpt.lmHeadBackward(params, grads, dlogp, null); // rows without targets get no gradient
        gpt.backward(params, grads);
        float[] hidden = Arrays.copyOfRange(gpt.hidden(), at * T * C, (at * T + T1) * C);
        return new Row(hidden, Arrays.copyOfRange(logp, at * T, at * T + T1), grads);
    }

    static float[] params() {
        float[] p = new float[ParamLayout.of(CFG).size()];
        Gpt.init(CFG, p, 11);
        return p;
    }

    static final int[] ROW_TOKENS = {1, 5, 2, 7, 3, 9, 4, 11, 12, 0, 6, 6, 8, 10, 2, 3};

    static void assertBitIdentical(String what, float[] a, float[] b) {
        assertEquals(a.length, b.length, what + " length");
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                float max = 0f;
                for (int j = 0; j < a.length; j++) {
                    max = Math.max(max, Math.abs(a[j] - b[j]));
                }
                throw new AssertionError(what + " not bit-identical: first difference at " + i + ": " + a[i]
                        + " vs " + b[i] + ", max |diff| " + max);
            }
        }
    }

    @Test
    void rowAloneAndInsideAPaddedBatchAreBitIdentical() {
        float[] p = params();
        Row alone = run(p, ROW_TOKENS, SEED, true);
        Row batched = run(p, ROW_TOKENS, SEED, false);
        assertBitIdentical("hidden (T1,C)", alone.hidden(), batched.hidden());
        assertBitIdentical("logp (T1)", alone.logp(), batched.logp());
        assertBitIdentical("grads", alone.grads(), batched.grads());
    }

    @Test
    void theRowSeedChoosesTheMasks() {
        float[] p = params();
        Row a = run(p, ROW_TOKENS, SEED, true);
        Row b = run(p, ROW_TOKENS, SEED + 1, true);
        assertFalse(Arrays.equals(a.hidden(), b.hidden()), "another row seed must give other dropout masks");
        assertTrue(Arrays.equals(a.hidden(), run(p, ROW_TOKENS, SEED, true).hidden()), "same seed, same masks");
    }
}
