package rlhf.reward;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

import org.junit.jupiter.api.Test;

import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;

class ScoreHeadTest {

    private static final GptConfig LM = GptConfig.gpt2(50, 8, 1, 4, 256);

    @Test
    void extendsTheLanguageModelByANormalHeadKeepingEveryTrunkWeight() {
        float[] lm = new float[ParamLayout.of(LM).size()];
        Gpt.init(LM, lm, 3);
        float std = ScoreHead.defaultStd(256);
        assertEquals(1 / Math.sqrt(257), std, 1e-7, "Stiennon et al.: variance 1/(d_model + 1)");
        float[] rm = ScoreHead.extend(LM, lm, std, 9);
        ParamLayout layout = ParamLayout.of(LM.withScoreHead(true));
        assertEquals(layout.size(), rm.length);
        assertArrayEquals(lm, Arrays.copyOf(rm, lm.length), "the trunk (and tied LM head) unchanged");
        int off = layout.offset("score.weight");
        double sum = 0;
        double sq = 0;
        for (int i = off; i < rm.length; i++) {
            sum += rm[i];
            sq += rm[i] * rm[i];
        }
        double mean = sum / 256;
        double sd = Math.sqrt(sq / 256 - mean * mean);
        assertTrue(Math.abs(sd - std) < 0.15 * std, "sample std " + sd + " of 256 draws near " + std);
        assertTrue(Math.abs(mean) < 4 * std / 16, "sample mean " + mean + " within 4 standard errors of 0");
        assertArrayEquals(rm, ScoreHead.extend(LM, lm, std, 9), "a pure function of the seed");
    }

    @Test
    void zeroStdGivesAZeroHeadAndAModelWithAHeadIsKept() {
        float[] lm = new float[ParamLayout.of(LM).size()];
        Gpt.init(LM, lm, 3);
        float[] rm = ScoreHead.extend(LM, lm, 0f, 9);
        for (int i = lm.length; i < rm.length; i++) {
            assertEquals(0f, rm[i]);
        }
        assertSame(rm, ScoreHead.extend(LM.withScoreHead(true), rm, 0.5f, 1), "already a reward model");
        assertThrows(IllegalArgumentException.class, () -> ScoreHead.extend(LM, new float[3], 0.1f, 1));
    }
}
