package rlhf.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Group baselines against cases computed by hand. */
class GroupAdvantagesTest {

    @Test
    void grpoSubtractsTheGroupMeanAndDividesByTheUnbiasedStdPlusEpsilon() {
        // group 1: {1, 0, 0, 1}: mean 0.5, unbiased std sqrt(4 x 0.25 / 3) = 0.5773502691896258
        // group 2: {3, 3, 3, 7}: mean 4, std sqrt((1 + 1 + 1 + 9) / 3) = 2
        double[] r = {1, 0, 0, 1, 3, 3, 3, 7};
        double[] out = new double[8];
        GroupAdvantages.compute(Algorithm.GRPO, r, 8, 4, true, out);
        double a = 0.5 / (0.5773502691896258 + 1e-4);
        double b = 1 / (2 + 1e-4);
        assertArrayEquals(new double[] {a, -a, -a, a, -b, -b, -b, 3 * b}, out, 1e-12);
    }

    @Test
    void drGrpoOnlySubtractsTheGroupMean() {
        double[] r = {1, 0, 0, 1, 3, 3, 3, 7};
        double[] out = new double[8];
        GroupAdvantages.compute(Algorithm.GRPO, r, 8, 4, false, out);
        assertArrayEquals(new double[] {0.5, -0.5, -0.5, 0.5, -1, -1, -1, 3}, out, 1e-12);
    }

    @Test
    void rlooSubtractsTheMeanOfTheOtherSamples() {
        // {1, 2, 3}: 1 - (2 + 3) / 2, 2 - (1 + 3) / 2, 3 - (1 + 2) / 2; {0.5, -0.5}: each minus the other
        double[] r = {1, 2, 3, 10, 10, 10};
        double[] out = new double[6];
        GroupAdvantages.compute(Algorithm.RLOO, r, 6, 3, true, out);
        assertArrayEquals(new double[] {-1.5, 0, 1.5, 0, 0, 0}, out, 1e-12);
        double[] pair = new double[2];
        GroupAdvantages.compute(Algorithm.RLOO, new double[] {0.5, -0.5}, 2, 2, false, pair);
        assertArrayEquals(new double[] {1, -1}, pair, 1e-12);
    }

    @Test
    void aGroupOfEqualRewardsHasNoAdvantage() {
        double[] out = new double[4];
        GroupAdvantages.compute(Algorithm.GRPO, new double[] {0.3, 0.3, 0.3, 0.3}, 4, 4, true, out);
        assertArrayEquals(new double[4], out, 1e-9);
    }

    @Test
    void refusesGroupsOfOneAndPartialGroups() {
        double[] out = new double[4];
        assertThrows(IllegalArgumentException.class,
                () -> GroupAdvantages.compute(Algorithm.RLOO, new double[] {1, 2}, 2, 1, false, out));
        assertThrows(IllegalArgumentException.class,
                () -> GroupAdvantages.compute(Algorithm.GRPO, new double[] {1, 2, 3}, 3, 2, true, out));
        assertThrows(IllegalArgumentException.class,
                () -> GroupAdvantages.compute(Algorithm.PPO, new double[] {1, 2}, 2, 2, true, out));
    }
}
