package rlhf.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The fast {@link Matmul#forward}/{@link Matmul#backward} against the plain reference kernels on
 * odd shapes (tails in every blocking dimension: micro-tile 4 x 64, KC 256, MC 64, NC 1024, the
 * few-rows forward path below 16 rows), with offsets, null bias, and 1 or 2 threads.
 */
class MatmulTest {

    /** Absolute tolerance scaled by (1 + |reference|): float sums in a different order. */
    private static final float TOL = 1e-4f;

    /** (BT, C, OC) */
    private static final int[][] SHAPES = {
        {1, 1, 1}, {3, 17, 33}, {17, 3, 1}, {33, 33, 17}, {1, 130, 67}, {5, 70, 131},
        {16, 65, 64}, {20, 257, 129}, {70, 300, 70}, {67, 33, 1100}, {4, 64, 64},
    };

    private final int defaultThreads = Parallel.threads();

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(defaultThreads);
    }

    @Test
    void forwardMatchesReferenceWithin1e4OnOddShapesOffsetsAndThreads() {
        for (int threads = 1; threads <= 2; threads++) {
            Parallel.setThreads(threads);
            for (int[] s : SHAPES) {
                for (boolean withBias : new boolean[] {true, false}) {
                    int BT = s[0], C = s[1], OC = s[2];
                    Random r = new Random(BT * 31L + C * 7L + OC);
                    int off = 3;
                    float[] inp = rand(r, off + BT * C);
                    float[] w = rand(r, off + OC * C);
                    float[] bias = withBias ? rand(r, off + OC) : null;
                    float[] out = rand(r, off + BT * OC + 5);
                    float[] ref = out.clone();
                    Matmul.forward(out, off, inp, off, w, off, bias, off, BT, C, OC);
                    Matmul.forwardReference(ref, off, inp, off, w, off, bias, off, BT, C, OC);
                    assertClose(ref, out, "forward BT=" + BT + " C=" + C + " OC=" + OC
                            + " bias=" + withBias + " threads=" + threads);
                }
            }
        }
    }

    @Test
    void backwardAddsIntoGradientsAndMatchesReferenceWithin1e4() {
        for (int threads = 1; threads <= 2; threads++) {
            Parallel.setThreads(threads);
            for (int[] s : SHAPES) {
                int BT = s[0], C = s[1], OC = s[2];
                Random r = new Random(BT * 17L + C * 5L + OC);
                int off = 2;
                float[] dout = rand(r, off + BT * OC);
                float[] inp = rand(r, off + BT * C);
                float[] w = rand(r, off + OC * C);
                // gradients start non-zero: backward must add, not overwrite
                float[] dinp = rand(r, off + BT * C + 4);
                float[] dw = rand(r, off + OC * C + 4);
                float[] dbias = rand(r, off + OC + 4);
                float[] dinpRef = dinp.clone(), dwRef = dw.clone(), dbiasRef = dbias.clone();
                Matmul.backward(dinp, off, dw, off, dbias, off, dout, off, inp, off, w, off, BT, C, OC);
                Matmul.backwardReference(dinpRef, off, dwRef, off, dbiasRef, off, dout, off, inp, off, w, off, BT, C, OC);
                String where = " BT=" + BT + " C=" + C + " OC=" + OC + " threads=" + threads;
                assertClose(dinpRef, dinp, "dinp" + where);
                assertClose(dwRef, dw, "dw" + where);
                assertClose(dbiasRef, dbias, "dbias" + where);
            }
        }
    }

    @Test
    void backwardSkipsNullGradients() {
        int BT = 9, C = 21, OC = 70;
        Random r = new Random(5);
        float[] dout = rand(r, BT * OC), inp = rand(r, BT * C), w = rand(r, OC * C);
        float[] dinp = rand(r, BT * C), dinpRef = dinp.clone();
        Matmul.backward(dinp, 0, null, 0, null, 0, dout, 0, inp, 0, w, 0, BT, C, OC);
        Matmul.backwardReference(dinpRef, 0, null, 0, null, 0, dout, 0, inp, 0, w, 0, BT, C, OC);
        assertClose(dinpRef, dinp, "dinp only");
        float[] dw = rand(r, OC * C), dwRef = dw.clone();
        Matmul.backward(null, 0, dw, 0, null, 0, dout, 0, inp, 0, w, 0, BT, C, OC);
        Matmul.backwardReference(null, 0, dwRef, 0, null, 0, dout, 0, inp, 0, w, 0, BT, C, OC);
        assertClose(dwRef, dw, "dw only");
    }

    @Test
    void resultsAreBitwiseIdenticalOnOneAndTwoThreads() {
        int BT = 70, C = 300, OC = 131;
        Random r = new Random(11);
        float[] inp = rand(r, BT * C), w = rand(r, OC * C), b = rand(r, OC), dout = rand(r, BT * OC);
        float[][] results = new float[2][];
        for (int threads = 1; threads <= 2; threads++) {
            Parallel.setThreads(threads);
            float[] out = new float[BT * OC], dinp = new float[BT * C], dw = new float[OC * C], db = new float[OC];
            Matmul.forward(out, 0, inp, 0, w, 0, b, 0, BT, C, OC);
            Matmul.backward(dinp, 0, dw, 0, db, 0, dout, 0, inp, 0, w, 0, BT, C, OC);
            results[threads - 1] = concat(out, dinp, dw, db);
        }
        assertArrayEquals(results[0], results[1], "1 vs 2 threads must give identical bits");
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        int first = -1;
        float maxDiff = 0f;
        for (int i = 0; i < expected.length; i++) {
            float d = Math.abs(expected[i] - actual[i]);
            maxDiff = Math.max(maxDiff, d);
            if (first < 0 && !(d <= TOL * (1f + Math.abs(expected[i])))) {
                first = i;
            }
        }
        if (first >= 0) {
            fail(what + ": differs beyond " + TOL + "*(1+|ref|) first at index " + first + ": expected "
                    + expected[first] + " found " + actual[first] + "; max abs diff " + maxDiff);
        }
    }

    private static float[] rand(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextFloat() * 2f - 1f;
        }
        return a;
    }

    private static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) {
            n += p.length;
        }
        float[] all = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }
}
