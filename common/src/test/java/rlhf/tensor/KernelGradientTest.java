package rlhf.tensor;

import static rlhf.tensor.GradCheck.check;
import static rlhf.tensor.GradCheck.dot;
import static rlhf.tensor.GradCheck.random;

import org.junit.jupiter.api.Test;

/** Every kernel's backward against central finite differences of sum(w * forward(x)) (h = 1e-2, rel 1e-2). */
class KernelGradientTest {

    static final float H = 1e-2f;
    static final double REL = 1e-2;
    static final double ABS = 1e-3;

    @Test
    void layerNormBackwardMatchesFiniteDifferences() {
        int N = 3, C = 6;
        float[] x = random(N * C, 1.5f, 1);
        float[] w = random(C, 1f, 2);
        float[] b = random(C, 1f, 3);
        float[] cw = random(N * C, 1f, 4);
        float[] out = new float[N * C], mean = new float[N], rstd = new float[N];
        java.util.function.DoubleSupplier loss = () -> {
            LayerNorm.forward(out, 0, mean, 0, rstd, 0, x, 0, w, 0, b, 0, N, C, 1e-5f);
            return dot(cw, out, 0, N * C);
        };
        loss.getAsDouble();
        float[] dx = new float[N * C], dw = new float[C], db = new float[C];
        LayerNorm.backward(dx, 0, dw, 0, db, 0, cw, 0, x, 0, w, 0, mean, 0, rstd, 0, N, C);
        check("layernorm dinp", x, 0, N * C, dx, 0, loss, H, REL, ABS);
        check("layernorm dw", w, 0, C, dw, 0, loss, H, REL, ABS);
        check("layernorm db", b, 0, C, db, 0, loss, H, REL, ABS);
    }

    @Test
    void geluAndReluBackwardMatchFiniteDifferences() {
        int N = 20;
        float[] x = random(N, 3f, 5);
        float[] cw = random(N, 1f, 6);
        float[] out = new float[N];
        float[] dx = new float[N];
        Gelu.backward(dx, 0, x, 0, cw, 0, N);
        check("gelu", x, 0, N, dx, 0, () -> {
            Gelu.forward(out, 0, x, 0, N);
            return dot(cw, out, 0, N);
        }, 1e-3f, REL, ABS);
        float[] dr = new float[N];
        Relu.backward(dr, 0, x, 0, cw, 0, N);
        check("relu (no input within h of the kink)", x, 0, N, dr, 0, () -> {
            Relu.forward(out, 0, x, 0, N);
            return dot(cw, out, 0, N);
        }, 1e-3f, REL, ABS);
    }

    @Test
    void softmaxAndLogSoftmaxBackwardMatchFiniteDifferences() {
        int N = 2, V = 7;
        float[] x = random(N * V, 2f, 7);
        float[] cw = random(N * V, 1f, 8);
        float[] out = new float[N * V];
        Softmax.forward(out, 0, x, 0, N, V);
        float[] dx = new float[N * V];
        Softmax.backward(dx, 0, out, 0, cw, 0, N, V);
        check("softmax", x, 0, N * V, dx, 0, () -> {
            Softmax.forward(out, 0, x, 0, N, V);
            return dot(cw, out, 0, N * V);
        }, H, REL, ABS);
        Softmax.logForward(out, 0, x, 0, N, V);
        float[] dl = new float[N * V];
        Softmax.logBackward(dl, 0, out, 0, cw, 0, N, V);
        check("log-softmax", x, 0, N * V, dl, 0, () -> {
            Softmax.logForward(out, 0, x, 0, N, V);
            return dot(cw, out, 0, N * V);
        }, H, REL, ABS);
    }

    @Test
    void residualAndDropoutBackwardMatchFiniteDifferences() {
        int N = 30;
        float[] a = random(N, 1f, 9), b = random(N, 1f, 10), cw = random(N, 1f, 11);
        float[] out = new float[N];
        float[] da = new float[N], db = new float[N];
        Residual.backward(da, 0, db, 0, cw, 0, N);
        java.util.function.DoubleSupplier res = () -> {
            Residual.forward(out, 0, a, 0, b, 0, N);
            return dot(cw, out, 0, N);
        };
        check("residual da", a, 0, N, da, 0, res, H, REL, ABS);
        check("residual db", b, 0, N, db, 0, res, H, REL, ABS);
        float[] dd = new float[N];
        Dropout.backward(dd, 0, cw, 0, N, 0.4f, 42, 3);
        check("dropout p=0.4 seed 42", a, 0, N, dd, 0, () -> {
            Dropout.forward(out, 0, a, 0, N, 0.4f, 42, 3);
            return dot(cw, out, 0, N);
        }, H, REL, ABS);
    }

    @Test
    void encoderBackwardMatchesFiniteDifferences() {
        int B = 2, T = 3, C = 4, V = 5, maxT = 6;
        int[] tokens = {1, 4, 1, 0, 2, 2};
        int[] positions = {0, 1, 0, 0, 1, 5};
        float[] wte = random(V * C, 1f, 12), wpe = random(maxT * C, 1f, 13), cw = random(B * T * C, 1f, 14);
        float[] out = new float[B * T * C];
        float[] dwte = new float[V * C], dwpe = new float[maxT * C];
        Encoder.backward(dwte, 0, dwpe, 0, cw, 0, tokens, positions, B, T, C);
        java.util.function.DoubleSupplier loss = () -> {
            Encoder.forward(out, 0, tokens, positions, wte, 0, wpe, 0, B, T, C, V, maxT);
            return dot(cw, out, 0, B * T * C);
        };
        check("encoder dwte", wte, 0, V * C, dwte, 0, loss, H, REL, ABS);
        check("encoder dwpe", wpe, 0, maxT * C, dwpe, 0, loss, H, REL, ABS);
    }

    @Test
    void attentionBackwardMatchesFiniteDifferencesInEveryVariant() {
        int B = 2, T = 5, C = 8, NH = 2;
        int[] segments = {0, 0, 1, 1, 1, 3, 3, 3, 3, 4};
        long[] seeds = {7, 8}; // one dropout seed per row
        for (boolean causal : new boolean[] {true, false}) {
            for (int[] seg : new int[][] {null, segments}) {
                for (float p : new float[] {0f, 0.3f}) {
                    float[] qkv = random(B * T * 3 * C, 1.5f, 15);
                    float[] cw = random(B * T * C, 1f, 16);
                    float[] out = new float[B * T * C], lse = new float[B * NH * T], scratch = new float[2 * B * NH * T];
                    java.util.function.DoubleSupplier loss = () -> {
                        Attention.forward(out, 0, lse, 0, qkv, 0, seg, B, T, C, NH, causal, p, seeds, 2, scratch, 0);
                        return dot(cw, out, 0, B * T * C);
                    };
                    loss.getAsDouble();
                    float[] dqkv = new float[qkv.length];
                    Attention.backward(dqkv, 0, cw, 0, qkv, 0, lse, 0, seg, B, T, C, NH, causal, p, seeds, 2, scratch, 0);
                    check("attention causal=" + causal + " segments=" + (seg != null) + " dropout=" + p,
                            qkv, 0, qkv.length, dqkv, 0, loss, H, REL, ABS);
                }
            }
        }
    }
}
