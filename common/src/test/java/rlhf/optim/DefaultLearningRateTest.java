package rlhf.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DefaultLearningRateTest {

    /** Width and peak rate of the GPT-3 paper's models (Brown et al. 2020, table 2.1). */
    private static final double[][] GPT3 = {
            {768, 6.0e-4}, {1024, 3.0e-4}, {1536, 2.5e-4}, {2048, 2.0e-4}, {2560, 1.6e-4}, {4096, 1.2e-4},
            {5140, 1.0e-4}};

    @Test
    void fromScratchRatesStayWithinHalfAgainOfTheGpt3PapersRates() {
        for (double[] row : GPT3) {
            double ours = DefaultLearningRate.of((int) row[0], false);
            double ratio = ours / row[1];
            assertTrue(ratio > 1 / 1.5 && ratio < 1.5, "width " + row[0] + ": " + ours + " vs " + row[1]);
        }
        assertEquals(6e-4f, DefaultLearningRate.of(768, false), 1e-6f);
    }

    @Test
    void narrowModelsAreCappedAtOneInAThousand() {
        assertEquals(1e-3f, DefaultLearningRate.of(128, false));
        assertEquals(1e-3f, DefaultLearningRate.of(256, false));
    }

    @Test
    void fineTuningTakesATenthAndTheDecayEndsAtATenthOfThePeak() {
        assertEquals(6e-5f, DefaultLearningRate.of(768, true), 1e-7f);
        assertEquals(1e-4f, DefaultLearningRate.of(128, true), 1e-8f);
        assertEquals(1e-5f, DefaultLearningRate.endOf(1e-4f), 1e-10f);
        assertThrows(IllegalArgumentException.class, () -> DefaultLearningRate.of(0, false));
    }
}
