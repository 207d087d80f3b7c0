package rlhf.model;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Errors a caller can hit name what was expected and what was found. */
class GptErrorsTest {

    static final GptConfig CFG = GptConfig.gpt2(10, 8, 1, 2, 4);

    @Test
    void batchLargerThanTheWorkspaceIsRejectedWithBothShapes() {
        Gpt gpt = new Gpt(CFG, 2, 4);
        float[] p = new float[ParamLayout.of(CFG).size()];
        var e = assertThrows(IllegalArgumentException.class, () -> gpt.forward(p, new int[15], null, null, 3, 5, false, 0));
        assertTrue(e.getMessage().contains("B=3, T=5") && e.getMessage().contains("maxB=2, maxT=4"), e.getMessage());
    }

    @Test
    void tokenOutsideTheVocabularyNamesRowAndPosition() {
        Gpt gpt = new Gpt(CFG, 2, 4);
        float[] p = new float[ParamLayout.of(CFG).size()];
        int[] tokens = {1, 2, 3, 4, 5, 6, 10, 0};
        var e = assertThrows(IllegalArgumentException.class, () -> gpt.forward(p, tokens, null, null, 2, 4, false, 0));
        assertTrue(e.getMessage().contains("token id 10 at row 1, position 2"), e.getMessage());
    }

    @Test
    void scoreHeadOnALanguageModelAndBidirectionalGenerationAreRefused() {
        Gpt gpt = new Gpt(CFG, 1, 2);
        float[] p = new float[ParamLayout.of(CFG).size()];
        gpt.forward(p, new int[] {1, 2}, null, null, 1, 2, false, 0);
        assertThrows(IllegalStateException.class, () -> gpt.scoreHeadForward(p, new float[2]));
        GptConfig bidi = new GptConfig(10, 8, 1, 2, 4, 1e-5f, GptConfig.Activation.GELU, false,
                GptConfig.Positions.LEARNED, GptConfig.Norm.PRE_LN, 0f, 0f, 0f, false);
        assertThrows(IllegalArgumentException.class, () -> new Generator(bidi, 1, 2, 2));
    }
}
