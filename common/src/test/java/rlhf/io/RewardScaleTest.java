package rlhf.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;

import org.junit.jupiter.api.Test;

import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;

/** A reward model's scale carried into its parameters: every position's value, not only the last. */
class RewardScaleTest {

    static float[] values(GptConfig cfg, float[] params, int[] tokens, int B, int T) {
        Gpt gpt = new Gpt(cfg, B, T);
        float[] v = new float[B * T];
        gpt.forward(params, tokens, null, null, B, T, false, 0L);
        gpt.scoreHeadForward(params, v);
        return v;
    }

    @Test
    void theRewrittenModelReadsEveryPositionOnTheScale() {
        for (boolean postLn : new boolean[] {false, true}) {
            GptConfig cfg = new GptConfig(40, 16, 2, 2, 24, 1e-5f, GptConfig.Activation.GELU, true,
                    GptConfig.Positions.LEARNED, postLn ? GptConfig.Norm.POST_LN : GptConfig.Norm.PRE_LN, 0f, 0f, 0f, true);
            float[] params = new float[ParamLayout.of(cfg).size()];
            Gpt.init(cfg, params, 11);
            Random r = new Random(3);
            int w = ParamLayout.of(cfg).offset("score.weight");
            int bias = ParamLayout.of(cfg).offset("ln_f.bias");
            for (int c = 0; c < 24; c++) {
                params[w + c] = (float) r.nextGaussian();
                params[bias + c] = (float) (0.1 * r.nextGaussian());
            }
            int B = 3, T = 16;
            int[] tokens = new int[B * T];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = r.nextInt(40);
            }
            float[] raw = values(cfg, params, tokens, B, T);
            RewardScale scale = new RewardScale(2.7, 6.5);
            float[] rewritten = params.clone();
            scale.applyToScoreHead(cfg, rewritten);
            float[] scaled = values(cfg, rewritten, tokens, B, T);
            for (int i = 0; i < raw.length; i++) {
                assertEquals((raw[i] - 2.7) / 6.5, scaled[i], 1e-5, "post-LN " + postLn + ", position " + i);
            }
        }
    }

    @Test
    void aModelWithoutAScoreHeadIsRefused() {
        GptConfig cfg = GptConfig.gpt2(40, 16, 1, 2, 24);
        float[] params = new float[ParamLayout.of(cfg).size()];
        assertThrows(IllegalArgumentException.class, () -> new RewardScale(1, 2).applyToScoreHead(cfg, params));
    }
}
