package rlhf.dpo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import rlhf.data.PromptGroup;
import rlhf.data.Rankings;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.spark.LossStats;
import rlhf.tensor.GradCheck;

/**
 * The DPO loss through a tiny model (2 layers, 8 wide, byte vocabulary): log-probabilities against
 * separate single-sequence forwards, the loss against the formula over them, log 2 when the
 * policy is the reference, the gradient against central finite differences, and sums that do
 * not depend on the padding of a micro-batch.
 */
class DpoLossTest {

    static final GptConfig CFG = GptConfig.gpt2(257, 24, 2, 2, 8);
    static final int EOS = 256;

    static float[] model(long seed) {
        float[] p = new float[ParamLayout.of(CFG).size()];
        Gpt.init(CFG, p, seed);
        return p;
    }

    /** prompt ++ response ++ EOS, response of n random bytes. */
    static int[] answer(int[] prompt, SplittableRandom r, int n) {
        int[] s = new int[prompt.length + n + 1];
        System.arraycopy(prompt, 0, s, 0, prompt.length);
        for (int i = 0; i < n; i++) {
            s[prompt.length + i] = 32 + r.nextInt(90);
        }
        s[s.length - 1] = EOS;
        return s;
    }

    /** A pair after a 4-token prompt, and a ranking [2, 0, 1] of three answers after a 2-token prompt. */
    static List<PromptGroup> twoGroups() {
        SplittableRandom r = new SplittableRandom(5);
        int[] p1 = {72, 105, 58, 32};
        PromptGroup pair = new PromptGroup(new int[][] {answer(p1, r, 3), answer(p1, r, 6)}, p1.length, new int[] {0},
                new int[] {1}, null, "pair", false);
        int[] better = new int[3];
        int[] worse = new int[3];
        Rankings.pairs(new int[] {2, 0, 1}, better, worse, 0);
        int[] p2 = {81, 58};
        PromptGroup rank = new PromptGroup(new int[][] {answer(p2, r, 4), answer(p2, r, 1), answer(p2, r, 7)},
                p2.length, better, worse, null, "ranking", false);
        return List.of(pair, rank);
    }

    /** Σ_{t >= prompt} log p(seq[t] | seq[<t]) from a forward of the sequence alone (batch of one, no padding). */
    static double alone(float[] params, int[] seq, int promptLength) {
        int n = seq.length - 1;
        Gpt g = new Gpt(CFG, 1, n);
        int[] inputs = java.util.Arrays.copyOf(seq, n);
        g.forward(params, inputs, null, null, 1, n, false, 0L);
        int[] targets = new int[n];
        for (int t = 0; t < n; t++) {
            targets[t] = t + 1 >= promptLength ? seq[t + 1] : -1;
        }
        float[] logp = new float[n];
        g.lmHeadForward(params, targets, 1f, logp, null);
        double s = 0;
        for (float v : logp) {
            s += v;
        }
        return s;
    }

    static List<DpoExample> withReference(List<PromptGroup> groups, float[] ref) {
        List<DpoExample> out = new ArrayList<>();
        for (PromptGroup g : groups) {
            double[] lp = new double[g.answers()];
            for (int k = 0; k < lp.length; k++) {
                lp[k] = alone(ref, g.sequences()[k], g.promptLength());
            }
            out.add(new DpoExample(g, lp));
        }
        return out;
    }

    static double softplus(double z) {
        return Math.log1p(Math.exp(z));
    }

    @Test
    void lossIsTheMeanOverPairsOfEachGroupFromSeparateForwards() {
        float[] policy = model(11);
        float[] ref = model(12);
        List<DpoExample> batch = withReference(twoGroups(), ref);
        double beta = 0.7;
        double alpha = 0.4;
        DpoLoss loss = new DpoLoss(CFG, 2, 3, 24, EOS, new PreferenceLoss(PreferenceLoss.Kind.SIGMOID, beta, 0), alpha);
        LossStats stats = new LossStats(DpoLoss.STATS.length);
        loss.evaluate(loss.newState(), policy, batch, stats);

        double[][] ratio = new double[2][];
        for (int g = 0; g < 2; g++) {
            PromptGroup pg = batch.get(g).group();
            ratio[g] = new double[pg.answers()];
            for (int k = 0; k < pg.answers(); k++) {
                ratio[g][k] = alone(policy, pg.sequences()[k], pg.promptLength()) - batch.get(g).refLogp()[k];
            }
        }
        double la = softplus(-beta * (ratio[0][0] - ratio[0][1]));
        double[] q = ratio[1]; // ranking [2, 0, 1]: pairs 2>0, 2>1, 0>1
        double lb = (softplus(-beta * (q[2] - q[0])) + softplus(-beta * (q[2] - q[1])) + softplus(-beta * (q[0] - q[1])))
                / 3;
        // the best answers' mean NLL per token: answer 0 of the pair (3 + EOS after the prompt), answer 2 of the ranking
        PromptGroup pair = batch.get(0).group();
        PromptGroup rank = batch.get(1).group();
        double nllA = -alone(policy, pair.sequences()[0], 4) / (pair.sequences()[0].length - 4);
        double nllB = -alone(policy, rank.sequences()[2], 2) / (rank.sequences()[2].length - 2);
        assertEquals(la + lb + alpha * (nllA + nllB), stats.loss(), 1e-5, "sum of group losses");
        assertEquals(nllA + nllB, stats.extra(8), 1e-5, "Σ best-answer NLL");
        assertEquals(2, stats.weight(), "one weight unit per prompt group");
        assertEquals(4, stats.extra(0), "pairs: 1 + 3");
        int correct = (ratio[0][0] > ratio[0][1] ? 1 : 0) + (q[2] > q[0] ? 1 : 0) + (q[2] > q[1] ? 1 : 0)
                + (q[0] > q[1] ? 1 : 0);
        assertEquals(correct, stats.extra(1), "pairs whose preferred answer has the larger implicit reward");
        double margins = beta * ((ratio[0][0] - ratio[0][1]) + (q[2] - q[0]) + (q[2] - q[1]) + (q[0] - q[1]));
        assertEquals(margins, stats.extra(2), 1e-5, "Σ βΔ");
        int tokens = 0;
        for (DpoExample e : batch) {
            for (int[] s : e.group().sequences()) {
                tokens += s.length;
            }
        }
        assertEquals(tokens, stats.extra(7));
    }

    @Test
    void whenThePolicyIsTheReferenceEveryGroupCostsLogTwo() {
        float[] policy = model(4);
        DpoLoss loss = new DpoLoss(CFG, 2, 3, 24, EOS, new PreferenceLoss(PreferenceLoss.Kind.SIGMOID, 0.1, 0), 0);
        DpoLoss.State s = loss.newState();
        List<PromptGroup> groups = twoGroups();
        double[] sums = new double[5];
        assertEquals(5, loss.sequenceLogprobs(s, policy, groups, sums, 0));
        List<DpoExample> batch = List.of(new DpoExample(groups.get(0), new double[] {sums[0], sums[1]}),
                new DpoExample(groups.get(1), new double[] {sums[2], sums[3], sums[4]}));
        LossStats stats = new LossStats(DpoLoss.STATS.length);
        loss.evaluate(s, policy, batch, stats);
        assertEquals(2 * Math.log(2), stats.loss(), 1e-12, "Δ = 0 exactly: the same layout, the same sums");
        assertEquals(0, stats.extra(2), 1e-12, "no margin");
        for (int k = 0; k < 2; k++) {
            assertEquals(alone(policy, groups.get(0).sequences()[k], 4), sums[k], 1e-4, "pair answer " + k);
        }
    }

    @Test
    void sumsDoNotDependOnThePaddingOfTheMicroBatch() {
        float[] policy = model(6);
        DpoLoss loss = new DpoLoss(CFG, 3, 3, 24, EOS, new PreferenceLoss(PreferenceLoss.Kind.SIGMOID, 0.1, 0), 0);
        DpoLoss.State s = loss.newState();
        List<PromptGroup> groups = twoGroups();
        SplittableRandom r = new SplittableRandom(3);
        int[] p = {65, 66, 67, 68, 69};
        PromptGroup longer = new PromptGroup(new int[][] {answer(p, r, 16), answer(p, r, 12)}, p.length, new int[] {1},
                new int[] {0}, null, "longer", false);
        double[] alone = new double[2];
        loss.sequenceLogprobs(s, policy, List.of(groups.get(0)), alone, 0);
        double[] padded = new double[4];
        loss.sequenceLogprobs(s, policy, List.of(groups.get(0), longer), padded, 0);
        for (int k = 0; k < 2; k++) {
            assertEquals(alone[k], padded[k], 1e-5, "answer " + k + " padded to 22 inputs next to a longer group");
        }
    }

    @Test
    void gradientMatchesCentralFiniteDifferences() {
        assertGradientMatchesFiniteDifferences(new PreferenceLoss(PreferenceLoss.Kind.SIGMOID, 0.5, 0.1), 0);
        assertGradientMatchesFiniteDifferences(new PreferenceLoss(PreferenceLoss.Kind.SIGMOID, 0.5, 0), 0.7);
        assertGradientMatchesFiniteDifferences(new PreferenceLoss(PreferenceLoss.Kind.IPO, 0.5, 0), 0.3);
    }

    private static void assertGradientMatchesFiniteDifferences(PreferenceLoss preference, double nllCoef) {
        float[] params = model(3);
        List<DpoExample> batch = withReference(twoGroups(), model(8));
        DpoLoss loss = new DpoLoss(CFG, 2, 3, 24, EOS, preference, nllCoef);
        DpoLoss.State s = loss.newState();
        float[] grads = new float[params.length];
        loss.accumulate(s, params, batch, new long[] {1, 2}, grads, new LossStats(DpoLoss.STATS.length));

        // the 12 largest gradients and 12 random ones of the blocks, ln_f and the embeddings
        List<Integer> check = GradCheck.largest(grads, 12);
        SplittableRandom r = new SplittableRandom(9);
        while (check.size() < 24) {
            check.add(r.nextInt(params.length));
        }
        GradCheck.checkAt(preference + " nll " + nllCoef, params, check, grads, () -> total(loss, s, params, batch),
                1e-3, 1e-3, 1e-2);
        assertTrue(Math.abs(grads[check.get(0)]) > 1e-3, "the gradient is not trivially zero");
    }

    private static double total(DpoLoss loss, DpoLoss.State s, float[] params, List<DpoExample> batch) {
        LossStats st = new LossStats(DpoLoss.STATS.length);
        loss.evaluate(s, params, batch, st);
        return st.loss();
    }

    @Test
    void aRewardModelOrAnOversizedBatchIsRefused() {
        PreferenceLoss l = new PreferenceLoss(PreferenceLoss.Kind.SIGMOID, 0.1, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new DpoLoss(CFG.withScoreHead(true), 2, 3, 24, EOS, l, 0));
        assertTrue(e.getMessage().contains("score head"), e.getMessage());
        DpoLoss loss = new DpoLoss(CFG, 1, 3, 24, EOS, l, 0);
        List<DpoExample> two = withReference(twoGroups(), model(1));
        e = assertThrows(IllegalArgumentException.class,
                () -> loss.evaluate(loss.newState(), model(1), two, new LossStats(DpoLoss.STATS.length)));
        assertTrue(e.getMessage().contains("micro-batch of 2 prompt groups"), e.getMessage());
    }
}
