package rlhf.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ParamLayoutTest {

    @Test
    void gpt2SmallHas124MParametersInHuggingFaceNames() {
        ParamLayout layout = ParamLayout.of(GptConfig.gpt2Small());
        // 124,439,808 is the published parameter count of GPT-2 small (tied LM head).
        assertEquals(124_439_808, layout.size());
        assertEquals(0, layout.offset("wte.weight"));
        assertTrue(layout.view("h.11.mlp.c_proj.weight").transposedInHf());
        assertFalse(layout.view("h.0.ln_1.bias").decay());
        assertFalse(layout.has("score.weight"));
    }

    @Test
    void sinusoidalPositionsHaveNoWpeAndScoreHeadAddsScoreWeight() {
        GptConfig c = GptConfig.gpt2(100, 16, 1, 2, 8);
        GptConfig sin = new GptConfig(100, 16, 1, 2, 8, 1e-5f, GptConfig.Activation.RELU, false,
                GptConfig.Positions.SINUSOIDAL, GptConfig.Norm.POST_LN, 0f, 0f, 0f, true);
        assertTrue(ParamLayout.of(c).has("wpe.weight"));
        assertFalse(ParamLayout.of(sin).has("wpe.weight"));
        assertEquals(8, ParamLayout.of(sin).view("score.weight").size());
    }

    @Test
    void invalidConfigNamesTheField() {
        var e = assertThrows(IllegalArgumentException.class, () -> GptConfig.gpt2(100, 16, 1, 3, 8));
        assertTrue(e.getMessage().contains("n_head"), e.getMessage());
    }
}
