package rlhf.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import rlhf.data.PreferenceGroups;
import rlhf.data.PromptGroup;
import rlhf.data.Rankings;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.model.RewardScorer;
import rlhf.spark.LossStats;
import rlhf.tensor.GradCheck;
import rlhf.tokenizer.BpeTokenizer;

/**
 * The reward loss through a tiny model (2 layers, 8 wide, byte vocabulary): loss against a hand
 * computation over rewards from separate single-sequence forwards, gradient against central
 * finite differences, one forward per answer, and rewards read at the last real token whatever
 * the padding.
 */
class RewardLossTest {

    static final GptConfig CFG = GptConfig.gpt2(257, 24, 2, 2, 8).withScoreHead(true);
    static final int EOS = 256;

    /** Reference reward: the sequence alone in a batch of one, score head at its last token. */
    static double alone(float[] params, int[] seq) {
        Gpt g = new Gpt(CFG, 1, seq.length);
        g.forward(params, seq, null, null, 1, seq.length, false, 0L);
        float[] v = new float[seq.length];
        g.scoreHeadForward(params, v);
        return v[seq.length - 1];
    }

    static int[] seq(int... ids) {
        return ids;
    }

    static int[] randomSeq(SplittableRandom r, int n) {
        int[] s = new int[n];
        for (int i = 0; i < n - 1; i++) {
            s[i] = 32 + r.nextInt(90);
        }
        s[n - 1] = EOS;
        return s;
    }

    /** A pair with margin 0.3 and a K=3 ranking [2, 0, 1]. */
    static List<PromptGroup> twoGroups() {
        SplittableRandom r = new SplittableRandom(5);
        PromptGroup pair = new PromptGroup(new int[][] {randomSeq(r, 7), randomSeq(r, 4)}, new int[] {0},
                new int[] {1}, new double[] {0.3}, "pair");
        int[] better = new int[3];
        int[] worse = new int[3];
        Rankings.pairs(new int[] {2, 0, 1}, better, worse, 0);
        PromptGroup rank = new PromptGroup(new int[][] {randomSeq(r, 5), randomSeq(r, 9), randomSeq(r, 6)}, better,
                worse, null, "ranking");
        return List.of(pair, rank);
    }

    static double softplus(double z) {
        return Math.log1p(Math.exp(z));
    }

    @Test
    void lossIsTheMeanOverPairsOfEachGroupFromSeparateForwards() {
        float[] params = RewardFixtures.tinyModel(CFG, 11);
        List<PromptGroup> groups = twoGroups();
        double c = 0.1;
        RewardLoss loss = new RewardLoss(CFG, 2, 3, 24, EOS, c);
        LossStats stats = new LossStats(RewardLoss.STATS.length);
        loss.evaluate(loss.newState(), params, groups, stats);

        PromptGroup a = groups.get(0);
        double a0 = alone(params, a.sequences()[0]);
        double a1 = alone(params, a.sequences()[1]);
        double la = softplus(-(a0 - a1 - 0.3)) + c * (a0 + a1) * (a0 + a1);
        double[] r = new double[3];
        for (int k = 0; k < 3; k++) {
            r[k] = alone(params, groups.get(1).sequences()[k]);
        }
        // ranking [2, 0, 1]: pairs 2>0, 2>1, 0>1
        double lb = (softplus(r[0] - r[2]) + softplus(r[1] - r[2]) + softplus(r[1] - r[0])
                + c * (sq(r[2] + r[0]) + sq(r[2] + r[1]) + sq(r[0] + r[1]))) / 3;
        assertEquals(la + lb, stats.loss(), 1e-5, "sum of group losses (tolerance 1e-5)");
        assertEquals(2, stats.weight(), "one weight unit per prompt group");
        assertEquals(4, stats.extra(0), "pairs: 1 + 3");
        assertEquals(5, stats.extra(3), "answers: 2 + 3");
        int correct = (a0 - a1 > 0 ? 1 : 0) + (r[2] > r[0] ? 1 : 0) + (r[2] > r[1] ? 1 : 0) + (r[0] > r[1] ? 1 : 0);
        assertEquals(correct, stats.extra(1), "pairs ranked right");
    }

    private static double sq(double x) {
        return x * x;
    }

    @Test
    void gradientMatchesCentralFiniteDifferences() {
        assertGradientMatchesFiniteDifferences(twoGroups());
    }

    /** A pair (0 > 1) with an off-prompt third answer ranked below answer 0. */
    static PromptGroup pairWithOffPromptAnswer() {
        SplittableRandom r = new SplittableRandom(8);
        return new PromptGroup(new int[][] {randomSeq(r, 6), randomSeq(r, 5), randomSeq(r, 8)}, 0, new int[] {0, 0},
                new int[] {1, 2}, null, "pair with an off-prompt answer", true);
    }

    @Test
    void anOffPromptAnswerIsATermOfItsOwnAndStaysOutOfTheStatistics() {
        float[] params = RewardFixtures.tinyModel(CFG, 11);
        PromptGroup g = pairWithOffPromptAnswer();
        RewardLoss loss = new RewardLoss(CFG, 1, 3, 24, EOS, 0);
        LossStats stats = new LossStats(RewardLoss.STATS.length);
        loss.evaluate(loss.newState(), params, List.of(g), stats);
        double r0 = alone(params, g.sequences()[0]);
        double r1 = alone(params, g.sequences()[1]);
        double r2 = alone(params, g.sequences()[2]);
        // the row's own pair at weight 1 (not 1/2 as a third answer of a ranking would have it), plus the off-prompt pair
        assertEquals(softplus(-(r0 - r1)) + softplus(-(r0 - r2)), stats.loss(), 1e-5);
        assertEquals(1, stats.extra(0), "own pairs");
        assertEquals(r0 > r1 ? 1 : 0, stats.extra(1), "own pairs ranked right");
        assertEquals(2, stats.extra(3), "own answers");
        assertEquals(r0 + r1, stats.extra(4), 1e-5, "reward sum over own answers");
        assertEquals(6 + 5 + 8, stats.extra(6), "tokens forwarded, the off-prompt answer's included");
        assertEquals(1, stats.extra(7), "off-prompt pairs");
        assertEquals(r0 > r2 ? 1 : 0, stats.extra(8), "off-prompt pairs ranked right");
        assertGradientMatchesFiniteDifferences(List.of(g, twoGroups().get(1)));
    }

    private static void assertGradientMatchesFiniteDifferences(List<PromptGroup> groups) {
        float[] params = RewardFixtures.tinyModel(CFG, 3);
        RewardLoss loss = new RewardLoss(CFG, 2, 3, 24, EOS, 0.05);
        RewardLoss.State s = loss.newState();
        float[] grads = new float[params.length];
        loss.accumulate(s, params, groups, new long[] {1, 2}, grads, new LossStats(RewardLoss.STATS.length));

        // the 12 largest gradients, 3 of the score head, 12 random ones of the blocks and ln_f
        List<Integer> check = GradCheck.largest(grads, 12);
        SplittableRandom r = new SplittableRandom(9);
        ParamLayout layout = ParamLayout.of(CFG);
        int trunk = layout.offset("h.0.ln_1.weight");
        for (int j = 0; j < 3; j++) {
            check.add(layout.offset("score.weight") + j);
        }
        while (check.size() < 27) {
            check.add(trunk + r.nextInt(params.length - trunk));
        }
        GradCheck.checkAt("reward loss", params, check, grads, () -> total(loss, s, params, groups), 1e-3, 1e-3, 1e-2);
        assertTrue(Math.abs(grads[check.get(0)]) > 1e-3, "the gradient is not trivially zero");
    }

    private static double total(RewardLoss loss, RewardLoss.State s, float[] params, List<PromptGroup> groups) {
        LossStats st = new LossStats(RewardLoss.STATS.length);
        loss.evaluate(s, params, groups, st);
        return st.loss();
    }

    @Test
    void aRankingOfFourGivesSixPairsWithEachAnswerForwardedOnce() {
        float[] params = RewardFixtures.tinyModel(CFG, 5);
        SplittableRandom r = new SplittableRandom(1);
        int[] better = new int[6];
        int[] worse = new int[6];
        Rankings.pairs(new int[] {3, 1, 0, 2}, better, worse, 0);
        PromptGroup g = new PromptGroup(new int[][] {randomSeq(r, 5), randomSeq(r, 8), randomSeq(r, 3),
                randomSeq(r, 6)}, better, worse, null, "k4");
        assertEquals(6, g.pairs());
        RewardLoss loss = new RewardLoss(CFG, 1, 4, 24, EOS, 0);
        RewardLoss.State s = loss.newState();
        LossStats stats = new LossStats(RewardLoss.STATS.length);
        float[] grads = new float[params.length];
        loss.accumulate(s, params, List.of(g), new long[] {7}, grads, stats);
        assertEquals(1, s.forwards, "one forward pass for the group");
        assertEquals(4, s.rowsForwarded, "4 answers forwarded, not 2 x 6 = 12 pair sides");
        assertEquals(6, stats.extra(0), "pairs");
        // the same loss as 6 separate pairs (each forwarded twice), averaged
        double perPairs = 0;
        for (int p = 0; p < 6; p++) {
            double b = alone(params, g.sequences()[better[p]]);
            double w = alone(params, g.sequences()[worse[p]]);
            perPairs += softplus(-(b - w)) / 6;
        }
        assertEquals(perPairs, stats.loss(), 1e-5, "group loss = mean over its 6 pairs (tolerance 1e-5)");
    }

    @Test
    void rewardIsReadAtTheLastRealTokenWhateverThePaddingAndCompanions() throws Exception {
        float[] params = RewardFixtures.tinyModel(CFG, 21);
        SplittableRandom r = new SplittableRandom(4);
        PromptGroup small = new PromptGroup(new int[][] {randomSeq(r, 3), randomSeq(r, 5)}, new int[] {0},
                new int[] {1}, null, "small");
        PromptGroup big = new PromptGroup(new int[][] {randomSeq(r, 20), randomSeq(r, 24), randomSeq(r, 11)},
                new int[] {0, 0, 1}, new int[] {1, 2, 2}, null, "big");
        RewardLoss loss = new RewardLoss(CFG, 2, 3, 24, EOS, 0);
        RewardLoss.State s = loss.newState();
        loss.forward(s, params, List.of(small), false, null);
        double[] alone = {s.reward(0), s.reward(1)};
        assertEquals(5, s.T, "T = longest answer of the batch");
        loss.forward(s, params, List.of(big, small), false, null);
        assertEquals(24, s.T);
        for (int k = 0; k < 2; k++) {
            double single = alone(params, small.sequences()[k]);
            assertEquals(single, alone[k], 1e-5, "answer " + k + ": batch of its group vs alone");
            assertEquals(single, s.reward(3 + k), 1e-5, "answer " + k + ": padded to 24 next to a longer group");
        }

        // junk (not EOS) in the padding changes nothing either
        int B = 2;
        int T = 12;
        int[] tokens = new int[B * T];
        int[][] seqs = {small.sequences()[0], small.sequences()[1]};
        int[] lengths = new int[B];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                tokens[b * T + t] = t < seqs[b].length ? seqs[b][t] : r.nextInt(257);
            }
            lengths[b] = seqs[b].length;
        }
        Gpt g = new Gpt(CFG, B, T);
        g.forward(params, tokens, null, null, B, T, false, 0L);
        float[] values = new float[B * T];
        g.scoreHeadForward(params, values);
        float[] out = new float[B];
        Gpt.gatherLast(values, lengths, B, T, out);
        for (int b = 0; b < B; b++) {
            assertEquals(alone[b], out[b], 1e-5, "row " + b + " with random tokens in its padding");
        }
    }

    @Test
    void withBidirectionalAttentionPaddingIsItsOwnSegment() {
        GptConfig enc = new GptConfig(257, 24, 2, 2, 8, 1e-5f, GptConfig.Activation.GELU, false,
                GptConfig.Positions.SINUSOIDAL, GptConfig.Norm.POST_LN, 0f, 0f, 0f, true);
        float[] lm = new float[ParamLayout.of(enc.withScoreHead(false)).size()];
        Gpt.init(enc.withScoreHead(false), lm, 2);
        float[] params = ScoreHead.extend(enc.withScoreHead(false), lm, 0.5f, 2);
        SplittableRandom r = new SplittableRandom(6);
        PromptGroup small = new PromptGroup(new int[][] {randomSeq(r, 4), randomSeq(r, 6)}, new int[] {1},
                new int[] {0}, null, "small");
        PromptGroup big = new PromptGroup(new int[][] {randomSeq(r, 22), randomSeq(r, 17)}, new int[] {0},
                new int[] {1}, null, "big");
        RewardLoss loss = new RewardLoss(enc, 2, 2, 24, EOS, 0);
        RewardLoss.State s = loss.newState();
        loss.forward(s, params, List.of(small), false, null);
        double[] alone = {s.reward(0), s.reward(1)};
        loss.forward(s, params, List.of(small, big), false, null);
        for (int k = 0; k < 2; k++) {
            assertEquals(alone[k], s.reward(k), 1e-5, "answer " + k + " padded from " + small.sequences()[k].length
                    + " to 22 tokens next to a longer group, bidirectional attention");
        }
    }

    @Test
    void trainingSequencesAreScoredAsTheSharedScorerScores() throws Exception {
        float[] params = RewardFixtures.tinyModel(CFG, 8);
        BpeTokenizer tok = RewardFixtures.byteTokenizer();
        PreferenceGroups.TextGroup text = new PreferenceGroups.TextGroup("Q: 2+2\nA:", List.of(" 4", " five", " 22"),
                new int[] {0, 2, 1}, 0, "test row 1");
        PreferenceGroups.Outcome o = PreferenceGroups.convert(tok, text, 24);
        PromptGroup g = o.group();
        assertEquals("Q: 2+2\nA: 4".length() + 1, g.sequences()[0].length, "prompt + response + EOS");
        assertEquals(EOS, g.sequences()[0][g.sequences()[0].length - 1]);
        RewardLoss loss = new RewardLoss(CFG, 1, 3, 24, EOS, 0);
        RewardLoss.State s = loss.newState();
        loss.forward(s, params, List.of(g), false, null);

        RewardScorer scorer = new RewardScorer(CFG, 3, 24);
        int[][] prompts = new int[3][];
        int[][] responses = new int[3][];
        for (int k = 0; k < 3; k++) {
            prompts[k] = tok.encode(text.prompt());
            responses[k] = tok.encode(text.responses().get(k));
        }
        float[] rewards = new float[3];
        scorer.score(params, prompts, responses, 3, true, EOS, rewards);
        for (int k = 0; k < 3; k++) {
            assertEquals(rewards[k], s.reward(k), 1e-5, "answer " + k + ": training layout vs RewardScorer");
        }
    }
}
