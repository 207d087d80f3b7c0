package rlhf.reward;

import java.util.Arrays;
import java.util.List;

import rlhf.data.PromptGroup;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.spark.EvalLoss;
import rlhf.spark.LossStats;
import rlhf.tensor.Rng;

/**
 * The reward model's loss on the data-parallel trainer: for each prompt group, the ranking loss
 * of {@link RankingLoss} over its pairs (mean over pairs), summed over groups here and divided by
 * the number of groups of the whole global batch by the trainer (weight 1 per group).
 *
 * <p>A micro-batch of groups is laid out as R = ΣK rows of (R, T) tokens, T its longest answer,
 * group after group, so every answer is forwarded (and backpropagated) ONCE however many pairs
 * it is in. Each row is prompt ++ response ++ EOS, right-padded with {@code padId} (EOS); the
 * reward is the score head at the row's last real token ({@link Gpt#gatherLast}), so padding is
 * never read: with causal attention it cannot affect earlier tokens, and with bidirectional
 * attention it is a segment of its own. The layout is that of {@link rlhf.model.RewardScorer},
 * which scores for evaluation, the score command and PPO.
 *
 * <pre>
 * tokens (R,T) -> trunk -> hidden (R,T,C) -> score head -> values (R,T) -> gatherLast -> r (R)
 * r -> per group RankingLoss -> dr (R) -> scatterLast -> dvalues (R,T) -> head and trunk backward
 * </pre>
 */
public final class RewardLoss implements EvalLoss<PromptGroup, RewardLoss.State> {

    private static final long serialVersionUID = 1L;

    /**
     * Extra sums over the dataset's own pairs and answers: pairs, pairs ranked right (r_better >
     * r_worse), sum of r_better - r_worse, answers, sum and sum of squares of their rewards; the
     * tokens forwarded (padding excluded); the off-prompt pairs and how many were ranked right.
     */
    public static final String[] STATS = {"pairs", "correct", "margin_sum", "answers", "reward_sum", "reward_sq_sum",
            "tokens", "off_prompt_pairs", "off_prompt_correct"};

    private final GptConfig model;
    private final int microBatch;
    private final int maxK;
    private final int maxT;
    private final int padId;
    private final double center;

    /**
     * @param microBatch at most this many groups per forward
     * @param maxK       the largest number of answers of a group
     * @param maxT       the longest answer in tokens (the context length)
     * @param padId      token written into padding (EOS; never read)
     * @param center     centering coefficient (0: off), see {@link RankingLoss}
     */
    public RewardLoss(GptConfig model, int microBatch, int maxK, int maxT, int padId, double center) {
        if (!model.scoreHead()) {
            throw new IllegalArgumentException("the reward model needs a score head (GptConfig.withScoreHead(true))");
        }
        if (microBatch < 1 || maxK < 2 || maxT < 1 || maxT > model.maxSeqLen()) {
            throw new IllegalArgumentException("reward loss needs microBatch >= 1, maxK >= 2, 1 <= maxT <= n_positions="
                    + model.maxSeqLen() + ", found " + microBatch + ", " + maxK + ", " + maxT);
        }
        if (padId < 0 || padId >= model.vocabSize()) {
            throw new IllegalArgumentException("pad id " + padId + " outside the vocabulary [0, " + model.vocabSize() + ")");
        }
        this.model = model;
        this.microBatch = microBatch;
        this.maxK = maxK;
        this.maxT = maxT;
        this.padId = padId;
        this.center = center;
    }

    /** Per-task workspace: the model for (microBatch·maxK, maxT) and the batch arrays. */
    public static final class State {
        final Gpt gpt;
        final int[] tokens;     // (R,T)
        final int[] segments;   // (R,T) 0 real, 1 padding (bidirectional attention only)
        final int[] lengths;    // (R)
        final float[] values;   // (R,T)
        final float[] dvalues;  // (R,T)
        final float[] rewards;  // (R)
        final float[] drf;      // (R)
        final double[] r;       // (R)
        final double[] dr;      // (R)
        final long[] rowSeeds;  // (R) dropout seed of each answer row, from its group's seed
        /** Sequence length T of the last layout. */
        int T;
        /** Forward passes and rows forwarded so far (tests count them). */
        long forwards;
        long rowsForwarded;

        State(GptConfig model, int maxRows, int maxT) {
            gpt = new Gpt(model, maxRows, maxT);
            int n = maxRows * maxT;
            tokens = new int[n];
            segments = new int[n];
            lengths = new int[maxRows];
            values = new float[n];
            dvalues = new float[n];
            rewards = new float[maxRows];
            rowSeeds = new long[maxRows];
            drf = new float[maxRows];
            r = new double[maxRows];
            dr = new double[maxRows];
        }

        /** The rewards of the last batch's rows (group after group), valid until the next batch. */
        public double reward(int row) {
            return r[row];
        }
    }

    @Override
    public String stateKey() {
        return "reward:" + model + ":" + microBatch + "x" + maxK + "x" + maxT;
    }

    @Override
    public State createState(int paramCount) {
        int expected = ParamLayout.of(model).size();
        if (paramCount != expected) {
            throw new IllegalArgumentException("parameters have " + paramCount + " floats, the reward model needs " + expected);
        }
        return newState();
    }

    /** A fresh workspace of this loss's shape (evaluation, tests). */
    @Override
    public State newState() {
        return new State(model, microBatch * maxK, maxT);
    }

    @Override
    public String[] statNames() {
        return STATS;
    }

    @Override
    public void accumulate(State s, float[] params, List<PromptGroup> batch, long[] seeds, float[] grads,
            LossStats stats) {
        int R = forward(s, params, batch, true, seeds);
        int T = s.gpt.time();
        Arrays.fill(s.dr, 0, R, 0);
        groupLosses(s, batch, stats, true);
        for (int i = 0; i < R; i++) {
            s.drf[i] = (float) s.dr[i];
        }
        Arrays.fill(s.dvalues, 0, R * T, 0f);
        Gpt.scatterLast(s.drf, s.lengths, R, T, s.dvalues);
        s.gpt.scoreHeadBackward(params, grads, s.dvalues);
        s.gpt.backward(params, grads);
    }

    /** The loss sums of a batch without dropout or gradient (evaluation). */
    @Override
    public void evaluate(State s, float[] params, List<PromptGroup> batch, LossStats stats) {
        forward(s, params, batch, false, null);
        groupLosses(s, batch, stats, false);
    }

    /**
     * Lays out the batch, runs the model once over all its answers; rewards in s.r; returns R.
     * Answer k of group g draws its dropout from (groupSeeds[g], k), so an answer's masks don't
     * depend on which groups share its micro-batch; groupSeeds may be null when not training.
     */
    int forward(State s, float[] params, List<PromptGroup> batch, boolean training, long[] groupSeeds) {
        int R = layout(s, batch);
        int T = s.T;
        if (training) {
            int row = 0;
            for (int g = 0; g < batch.size(); g++) {
                for (int k = 0; k < batch.get(g).answers(); k++) {
                    s.rowSeeds[row++] = Rng.bits(groupSeeds[g], -2, k);
                }
            }
        }
        s.gpt.forward(params, s.tokens, null, model.causal() ? null : s.segments, R, T, training, s.rowSeeds);
        s.forwards++;
        s.rowsForwarded += R;
        s.gpt.scoreHeadForward(params, s.values);
        Gpt.gatherLast(s.values, s.lengths, R, T, s.rewards);
        for (int i = 0; i < R; i++) {
            s.r[i] = s.rewards[i];
        }
        return R;
    }

    /**
     * Adds each group's loss (weight 1) and statistics; with {@code grad}, accumulates d loss / d r
     * into s.dr. A group with an off-prompt answer adds the loss of that pair as a second term
     * (weight 1), so the dataset's own pairs keep their weight.
     */
    private void groupLosses(State s, List<PromptGroup> batch, LossStats stats, boolean grad) {
        int off = 0;
        for (PromptGroup g : batch) {
            int K = g.ownAnswers();
            int P = g.ownPairs();
            double l = RankingLoss.loss(s.r, off, g.better(), g.worse(), g.margin(), 0, P, center,
                    grad ? s.dr : null, off);
            if (g.offPrompt()) {
                l += RankingLoss.loss(s.r, off, g.better(), g.worse(), g.margin(), P, 1, center,
                        grad ? s.dr : null, off);
                RankingLoss.Stats op = RankingLoss.stats(s.r, off, g.better(), g.worse(), P, 1);
                stats.add(7, op.pairs());
                stats.add(8, op.correct());
            }
            stats.addLoss(l, 1);
            RankingLoss.Stats st = RankingLoss.stats(s.r, off, g.better(), g.worse(), 0, P);
            stats.add(0, st.pairs());
            stats.add(1, st.correct());
            stats.add(2, st.sumMargin());
            stats.add(3, K);
            for (int k = 0; k < K; k++) {
                double v = s.r[off + k];
                stats.add(4, v);
                stats.add(5, v * v);
            }
            for (int[] seq : g.sequences()) {
                stats.add(6, seq.length);
            }
            off += g.answers();
        }
    }

    /** Fills (R, T) from the groups, T = their longest answer (kept in s.T); returns R. */
    private int layout(State s, List<PromptGroup> batch) {
        PromptGroup.BatchShape shape = PromptGroup.shape(batch, microBatch, maxK, maxT);
        int T = shape.longest();
        int R = shape.rows();
        int row = 0;
        for (PromptGroup g : batch) {
            for (int[] seq : g.sequences()) {
                int o = row * T;
                int n = seq.length;
                System.arraycopy(seq, 0, s.tokens, o, n);
                Arrays.fill(s.tokens, o + n, o + T, padId);
                Arrays.fill(s.segments, o, o + n, 0);
                Arrays.fill(s.segments, o + n, o + T, 1);
                s.lengths[row] = n;
                row++;
            }
        }
        s.T = T;
        return R;
    }
}
