package rlhf.model;

import static rlhf.tensor.GradCheck.random;

import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;
import rlhf.tensor.GradCheck;

/**
 * Whole-model gradients (trunk + LM head via logp and entropy + score head) against central
 * finite differences over EVERY parameter, in each config variant, on V=11, T=5, C=8, NH=2, L=2.
 * Loss = sum a·logp + sum b·entropy + sum c·values with fixed random a, b, c.
 */
class GptGradientTest {

    static final int V = 11, T = 5, C = 8, NH = 2, L = 2, B = 2;

    static GptConfig cfg(GptConfig.Activation act, boolean causal, GptConfig.Positions pos, GptConfig.Norm norm) {
        return new GptConfig(V, 7, L, NH, C, 1e-5f, act, causal, pos, norm, 0f, 0f, 0f, true);
    }

    static final GptConfig BASE = cfg(GptConfig.Activation.GELU, true, GptConfig.Positions.LEARNED, GptConfig.Norm.PRE_LN);

    /** GPT-2 init plus uniform noise, so that LayerNorm weights, biases and projections are all non-trivial. */
    static float[] testParams(GptConfig c, long seed) {
        ParamLayout layout = ParamLayout.of(c);
        float[] p = new float[layout.size()];
        Gpt.init(c, p, seed);
        float[] noise = random(p.length, 0.4f, seed + 1);
        for (int i = 0; i < p.length; i++) {
            p[i] += noise[i];
        }
        return p;
    }

    static void checkModel(String name, GptConfig c, int[] positions, int[] segments, boolean training, float h) {
        checkModel(name, c, positions, segments, training, h, 0.0);
    }

    static void checkModel(String name, GptConfig c, int[] positions, int[] segments, boolean training, float h,
                           double maxBadFraction) {
        checkModel(name, c, positions, segments, training, h, maxBadFraction, 1f, 1f, 1f, ROW_SEEDS);
    }

    /** One dropout seed per row (the per-example path the trainers use). */
    static final long[] ROW_SEEDS = {1234L, -77L};

    /**
     * wl, we, wv scale the logp, entropy and value terms of the loss (0 switches a head's term off);
     * rowSeeds null uses the single-seed overload (seed 1234).
     */
    static void checkModel(String name, GptConfig c, int[] positions, int[] segments, boolean training, float h,
                           double maxBadFraction, float wl, float we, float wv, long[] rowSeeds) {
        Gpt gpt = new Gpt(c, 3, 6);
        float[] params = testParams(c, 5);
        int[] tokens = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};
        int[] targets = {1, 4, -1, 5, 9, 2, 6, 5, 3, -1};
        float[] a = random(B * T, wl, 20), b = random(B * T, we, 21), cv = random(B * T, wv, 22);
        float[] logp = new float[B * T], ent = new float[B * T], values = new float[B * T];
        float temp = 0.7f;
        DoubleSupplier loss = () -> {
            if (rowSeeds == null) {
                gpt.forward(params, tokens, positions, segments, B, T, training, 1234L);
            } else {
                gpt.forward(params, tokens, positions, segments, B, T, training, rowSeeds);
            }
            gpt.lmHeadForward(params, targets, temp, logp, ent);
            gpt.scoreHeadForward(params, values);
            return GradCheck.dot(a, logp, 0, B * T) + GradCheck.dot(b, ent, 0, B * T) + GradCheck.dot(cv, values, 0, B * T);
        };
        loss.getAsDouble();
        float[] grads = new float[params.length];
        gpt.lmHeadBackward(params, grads, a, b);
        gpt.scoreHeadBackward(params, grads, cv);
        gpt.backward(params, grads);
        GradCheck.check(name + " (h=" + h + ", rel 2e-2, abs 2e-3)", params, 0, params.length, grads, 0, loss, h, 2e-2, 2e-3, maxBadFraction);
    }

    @Test
    void gpt2VariantGradientsMatchFiniteDifferences() {
        checkModel("causal learned pre-LN GELU", BASE, null, null, false, 1e-2f);
    }

    @Test
    void bidirectionalGradientsMatchFiniteDifferences() {
        checkModel("bidirectional", cfg(GptConfig.Activation.GELU, false, GptConfig.Positions.LEARNED, GptConfig.Norm.PRE_LN),
                null, null, false, 1e-2f);
    }

    @Test
    void sinusoidalPostLnReluGradientsMatchFiniteDifferences() {
        checkModel("sinusoidal", cfg(GptConfig.Activation.GELU, true, GptConfig.Positions.SINUSOIDAL, GptConfig.Norm.PRE_LN),
                null, null, false, 1e-2f);
        checkModel("post-LN", cfg(GptConfig.Activation.GELU, true, GptConfig.Positions.LEARNED, GptConfig.Norm.POST_LN),
                null, null, false, 1e-2f);
        checkModel("post-LN bidirectional sinusoidal", cfg(GptConfig.Activation.GELU, false,
                GptConfig.Positions.SINUSOIDAL, GptConfig.Norm.POST_LN), null, null, false, 1e-2f);
        checkModel("ReLU", cfg(GptConfig.Activation.RELU, true, GptConfig.Positions.LEARNED, GptConfig.Norm.PRE_LN),
                null, null, false, 2e-3f, 0.02); // up to 2% of coordinates may straddle a ReLU kink
    }

    @Test
    void dropoutWithFixedSeedGradientsMatchFiniteDifferences() {
        GptConfig d = BASE.withDropout(0.2f, 0.2f, 0.2f);
        checkModel("dropout 0.2/0.2/0.2 row seeds", d, null, null, true, 3e-3f);
        checkModel("dropout 0.2/0.2/0.2 seed 1234", d, null, null, true, 3e-3f, 0.0, 1f, 1f, 1f, null);
        checkModel("dropout post-LN bidirectional row seeds", cfg(GptConfig.Activation.GELU, false,
                GptConfig.Positions.LEARNED, GptConfig.Norm.POST_LN).withDropout(0.2f, 0.2f, 0.2f), null, null, true, 3e-3f);
    }

    @Test
    void packedSegmentsGradientsMatchFiniteDifferences() {
        int[] positions = {0, 1, 0, 1, 2, 0, 1, 2, 3, 0};
        int[] segments = {0, 0, 1, 1, 1, 0, 0, 0, 0, 1};
        checkModel("packed causal", BASE, positions, segments, false, 1e-2f);
        checkModel("packed bidirectional", cfg(GptConfig.Activation.GELU, false, GptConfig.Positions.LEARNED,
                GptConfig.Norm.PRE_LN), positions, segments, false, 1e-2f);
    }

    @Test
    void eachHeadAloneGradientsMatchFiniteDifferences() {
        checkModel("LM head logp only", BASE, null, null, false, 1e-2f, 0.0, 1f, 0f, 0f, ROW_SEEDS);
        checkModel("LM head entropy only", BASE, null, null, false, 1e-2f, 0.0, 0f, 1f, 0f, ROW_SEEDS);
        checkModel("score head only", BASE, null, null, false, 1e-2f, 0.0, 0f, 0f, 1f, ROW_SEEDS);
    }
}
