package rlhf.reward;

import java.util.List;

import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.tensor.Rng;

/**
 * Turns a language model (SFT or pretrained) into a reward model: the same trunk and a scalar
 * head {@code score.weight (1, C)}. {@link ParamLayout} puts score.weight last, so the new
 * parameter buffer is the old one followed by C floats; the tied LM head (wte) stays, unused.
 *
 * <p>The head is drawn from normal(0, std) with std = 1/sqrt(C + 1) by default, as Stiennon et
 * al. (2020, "Learning to summarize from human feedback") initialise their reward head, so the
 * initial rewards have about unit scale whatever C; std = 0 starts every reward at 0.
 */
public final class ScoreHead {

    private ScoreHead() {
    }

    /** Default head standard deviation for width C: 1/sqrt(C + 1). */
    public static float defaultStd(int C) {
        return (float) (1.0 / Math.sqrt(C + 1.0));
    }

    /**
     * The parameters of {@code lm} (a config without score head) extended by a score head drawn
     * with {@code std} from {@code seed}. A config that already has a head is returned as it is.
     */
    public static float[] extend(GptConfig lm, float[] params, float std, long seed) {
        if (lm.scoreHead()) {
            return params;
        }
        ParamLayout from = ParamLayout.of(lm);
        ParamLayout to = ParamLayout.of(lm.withScoreHead(true));
        if (params.length != from.size()) {
            throw new IllegalArgumentException("params have " + params.length + " floats, the model needs " + from.size());
        }
        List<ParamLayout.View> a = from.views();
        List<ParamLayout.View> b = to.views();
        ParamLayout.View head = b.get(b.size() - 1);
        if (b.size() != a.size() + 1 || !head.name().equals("score.weight") || head.offset() != from.size()) {
            throw new IllegalStateException("expected score.weight appended after the " + a.size()
                    + " tensors of the language model");
        }
        float[] out = java.util.Arrays.copyOf(params, to.size());
        for (int i = 0; i < head.size(); i++) {
            out[head.offset() + i] = std == 0f ? 0f : (float) (std * Rng.normal(seed, 7, i));
        }
        return out;
    }
}
