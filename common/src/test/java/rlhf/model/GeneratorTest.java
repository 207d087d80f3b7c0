package rlhf.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GeneratorTest {

    static final int V = 17;
    static final int[] PROMPTS = {3, 1, 4, 1, 5, /**/ 9, 0, 0, 0, 0, /**/ 2, 6, 5, 3, 5};
    static final int[] LENS = {3, 1, 5};
    static final int PT = 5;

    static GptConfig pre() {
        return GptConfig.gpt2(V, 16, 2, 2, 16);
    }

    static GptConfig postSinRelu() {
        return new GptConfig(V, 16, 2, 2, 16, 1e-5f, GptConfig.Activation.RELU, true,
                GptConfig.Positions.SINUSOIDAL, GptConfig.Norm.POST_LN, 0f, 0f, 0f, false);
    }

    /** Full-forward logits (T, V) of one sequence. */
    static float[] fullLogits(GptConfig cfg, float[] params, int[] seq) {
        Gpt gpt = new Gpt(cfg, 1, seq.length);
        gpt.forward(params, seq, null, null, 1, seq.length, false, 0);
        gpt.lmHeadForward(params, new int[seq.length], 1f, new float[seq.length], null);
        return java.util.Arrays.copyOf(gpt.logits(), seq.length * V);
    }

    static void assertClose(String what, float[] expected, int eOff, float[] actual, int aOff, int n, float tol) {
        float max = 0;
        int first = -1;
        for (int i = 0; i < n; i++) {
            float d = Math.abs(expected[eOff + i] - actual[aOff + i]);
            if (d > tol && first < 0) {
                first = i;
            }
            max = Math.max(max, d);
        }
        if (first >= 0) {
            throw new AssertionError(what + ": differs beyond " + tol + " first at " + first + " (expected "
                    + expected[eOff + first] + ", found " + actual[aOff + first] + "), max diff " + max);
        }
    }

    @Test
    void kvCacheLogitsEqualFullForwardForPromptsOfDifferentLengths() {
        for (GptConfig cfg : new GptConfig[] {pre(), postSinRelu()}) {
            float[] params = GptGradientTest.testParams(cfg, 11);
            Generator gen = new Generator(cfg, 3, PT, 6);
            int steps = 5;
            float[][] seen = new float[3][(steps + 1) * V];
            int[][] seqs = new int[3][];
            for (int b = 0; b < 3; b++) {
                seqs[b] = new int[LENS[b] + steps];
                System.arraycopy(PROMPTS, b * PT, seqs[b], 0, LENS[b]);
            }
            gen.prefill(params, PROMPTS, PT, LENS, 3);
            int[] rows = {0, 1, 2};
            int[] tok = new int[3];
            for (int s = 0; s <= steps; s++) {
                for (int b = 0; b < 3; b++) {
                    System.arraycopy(gen.logits(), b * V, seen[b], s * V, V);
                }
                if (s == steps) {
                    break;
                }
                for (int b = 0; b < 3; b++) {
                    tok[b] = (s * 7 + b * 3 + 1) % V;
                    seqs[b][LENS[b] + s] = tok[b];
                }
                gen.decode(params, tok, rows, 3);
            }
            for (int b = 0; b < 3; b++) {
                float[] full = fullLogits(cfg, params, seqs[b]);
                for (int s = 0; s <= steps; s++) {
                    assertClose(cfg.norm() + " row " + b + " step " + s + " logits (tol 1e-4)",
                            full, (LENS[b] - 1 + s) * V, seen[b], s * V, V, 1e-4f);
                }
            }
        }
    }

    @Test
    void sampledLogprobsMatchFullForwardAndRowsDoNotDependOnTheBatch() {
        GptConfig cfg = pre();
        float[] params = GptGradientTest.testParams(cfg, 12);
        Generator gen = new Generator(cfg, 3, PT, 8);
        GenerationConfig gc = new GenerationConfig(8, 0.8f, 6, 0.9f, -1, 99L);
        Generation g = gen.generate(params, PROMPTS, PT, LENS, 3, gc, null);
        int[][] completions = new int[3][];
        for (int b = 0; b < 3; b++) {
            assertEquals(8, g.length(b));
            assertFalse(g.endedWithEos(b));
            completions[b] = g.completion(b);
            int[] seq = new int[LENS[b] + 8];
            System.arraycopy(PROMPTS, b * PT, seq, 0, LENS[b]);
            System.arraycopy(completions[b], 0, seq, LENS[b], 8);
            Gpt gpt = new Gpt(cfg, 1, seq.length);
            int[] targets = new int[seq.length];
            java.util.Arrays.fill(targets, -1);
            for (int i = 0; i < 8; i++) {
                targets[LENS[b] - 1 + i] = completions[b][i];
            }
            float[] logp = new float[seq.length];
            gpt.forward(params, seq, null, null, 1, seq.length, false, 0);
            gpt.lmHeadForward(params, targets, 0.8f, logp, null);
            for (int i = 0; i < 8; i++) {
                assertEquals(logp[LENS[b] - 1 + i], g.logprob(b, i), 1e-4f, "row " + b + " token " + i + " logprob (tol 1e-4)");
            }
        }
        // the same seed again: bit-identical
        Generation again = gen.generate(params, PROMPTS, PT, LENS, 3, gc, null);
        for (int b = 0; b < 3; b++) {
            assertArrayEquals(completions[b], again.completion(b));
        }
        // row 2 alone, with its key 2, gives the same completion as inside the batch
        int[] alone = java.util.Arrays.copyOfRange(PROMPTS, 2 * PT, 3 * PT);
        Generation single = gen.generate(params, alone, PT, new int[] {5}, 1, gc, new long[] {2});
        assertArrayEquals(completions[2], single.completion(0));
    }

    @Test
    void greedyAndTopKOneTakeTheArgmaxAndRowsStopAtEos() {
        GptConfig cfg = pre();
        float[] params = GptGradientTest.testParams(cfg, 13);
        Generator gen = new Generator(cfg, 3, PT, 6);
        Generation g = gen.generate(params, PROMPTS, PT, LENS, 3, GenerationConfig.greedy(6, -1), null);
        int[][] greedy = new int[3][];
        for (int b = 0; b < 3; b++) {
            greedy[b] = g.completion(b);
            int[] seq = new int[LENS[b] + 6];
            System.arraycopy(PROMPTS, b * PT, seq, 0, LENS[b]);
            System.arraycopy(greedy[b], 0, seq, LENS[b], 6);
            float[] full = fullLogits(cfg, params, seq);
            for (int i = 0; i < 6; i++) {
                int off = (LENS[b] - 1 + i) * V;
                for (int j = 0; j < V; j++) {
                    assertTrue(full[off + j] <= full[off + greedy[b][i]] + 1e-5f, "row " + b + " step " + i + " is argmax");
                }
            }
        }
        Generation k1 = gen.generate(params, PROMPTS, PT, LENS, 3, new GenerationConfig(6, 1.5f, 1, 1f, -1, 5L), null);
        for (int b = 0; b < 3; b++) {
            assertArrayEquals(greedy[b], k1.completion(b), "top-k 1 equals greedy");
        }
        // make row 1's third greedy token the EOS id: row 1 stops there (or earlier, if it appeared before)
        int eos = greedy[1][2];
        Generation e = gen.generate(params, PROMPTS, PT, LENS, 3, GenerationConfig.greedy(6, eos), null);
        int firstEos = 0;
        while (greedy[1][firstEos] != eos) {
            firstEos++;
        }
        assertEquals(firstEos + 1, e.length(1));
        assertTrue(e.endedWithEos(1));
        assertEquals(eos, e.token(1, firstEos));
        for (int b = 0; b < 3; b++) {
            for (int i = 0; i < e.length(b); i++) {
                assertEquals(greedy[b][i], e.token(b, i), "row " + b + " token " + i + " unchanged by other rows stopping");
            }
        }
    }
}
