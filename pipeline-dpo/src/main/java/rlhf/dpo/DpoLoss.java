package rlhf.dpo;

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
 * DPO's loss on the data-parallel trainer: for each prompt group, the {@link PreferenceLoss} of
 * its pairs (mean over pairs), summed here and divided by the number of groups of the whole
 * global batch by the trainer (weight 1 per group, as the reward model weighs them).
 *
 * <p>A micro-batch of groups is laid out as R = ΣK rows of (R, T) tokens, T its longest answer
 * minus one, group after group, so every answer is forwarded (and backpropagated) once however
 * many pairs it is in. Row k holds the inputs of answer k (prompt ++ response ++ EOS without its
 * last token); its targets are the next tokens where they are response tokens (position t with
 * t+1 &gt;= the prompt's length) and -1 elsewhere, as SFT's loss on the response. Padding is a
 * segment of its own with target -1, so it is never attended to and adds nothing.
 *
 * <pre>
 * tokens (R,T) -> trunk -> LM head -> logp (R,T) -> Σ over response positions -> s_k (R)
 *      (IPO: the mean over them, as TRL computes IPO's log-probabilities)
 * Δ_p = (s_b - ref_b) - (s_w - ref_w) for each pair p = (b better than w)
 * loss = 1/P Σ_p ℓ(Δ_p)     ds_b += ℓ'(Δ_p)/P   ds_w -= ℓ'(Δ_p)/P
 *      + α · (-1/n Σ log π over the n response tokens of the group's best answer)   (α = nllCoef)
 * dlogp (R,T) = ds_k on row k's response positions (/ their count for IPO) -> LM head and trunk backward
 * </pre>
 *
 * <p>The last term (Pang et al. 2024, TRL's {@code rpo_alpha}) keeps the preferred answers likely:
 * the preference loss alone only widens the gap between the two answers of a pair, and on small
 * data it does so by pushing both down (the log-probability of the chosen answers of the demo's
 * preferences fell from -0.6 to -8.5 in three epochs while the rejected ones fell to -49, and the
 * policy's accuracy with them).
 *
 * <p>The same layout, without dropout or gradient, gives the reference model's log-probabilities
 * ({@link #sequenceLogprobs}), so the policy's and the reference's are the same sums of the same tokens.
 */
public final class DpoLoss implements EvalLoss<DpoExample, DpoLoss.State> {

    private static final long serialVersionUID = 1L;

    /**
     * Extra sums over pairs: pairs, pairs with Δ &gt; 0, Σ βΔ (TRL's rewards/margins), Σ of the
     * implicit rewards β(s - ref) of the better and the worse answer of each pair, Σ of their
     * log-probabilities s; the tokens forwarded (padding excluded); Σ over groups of the mean
     * negative log-likelihood per token of the best answer.
     */
    public static final String[] STATS = {"pairs", "correct", "margin_sum", "chosen_reward_sum",
            "rejected_reward_sum", "chosen_logp_sum", "rejected_logp_sum", "tokens", "best_nll_sum"};

    private final GptConfig model;
    private final int microBatch;
    private final int maxK;
    private final int maxT;
    private final int padId;
    private final PreferenceLoss preference;
    private final double nllCoef;

    /**
     * @param microBatch at most this many groups per forward
     * @param maxK       the largest number of answers of a group
     * @param maxT       the longest answer in tokens (prompt + response + EOS)
     * @param padId      token written into padding (never attended to)
     * @param nllCoef    α &gt;= 0, the weight of the best answer's per-token negative log-likelihood (0: off)
     */
    public DpoLoss(GptConfig model, int microBatch, int maxK, int maxT, int padId, PreferenceLoss preference,
            double nllCoef) {
        if (model.scoreHead()) {
            throw new IllegalArgumentException("DPO trains a policy (a language model); this model has a score head");
        }
        if (microBatch < 1 || maxK < 2 || maxT < 2 || maxT - 1 > model.maxSeqLen()) {
            throw new IllegalArgumentException("DPO loss needs microBatch >= 1, maxK >= 2, 2 <= maxT <= n_positions + 1 = "
                    + (model.maxSeqLen() + 1) + ", found " + microBatch + ", " + maxK + ", " + maxT);
        }
        if (padId < 0 || padId >= model.vocabSize()) {
            throw new IllegalArgumentException("pad id " + padId + " outside the vocabulary [0, " + model.vocabSize() + ")");
        }
        if (!(nllCoef >= 0) || Double.isInfinite(nllCoef)) {
            throw new IllegalArgumentException("the NLL coefficient must be >= 0 and finite, found " + nllCoef);
        }
        this.model = model;
        this.nllCoef = nllCoef;
        this.microBatch = microBatch;
        this.maxK = maxK;
        this.maxT = maxT;
        this.padId = padId;
        this.preference = preference;
    }

    public PreferenceLoss preference() {
        return preference;
    }

    /** Per-task workspace: the model for (microBatch·maxK, maxT-1) and the batch arrays. */
    public static final class State {
        final Gpt gpt;
        final int[] tokens;     // (R,T)
        final int[] targets;    // (R,T) next token on response positions, -1 elsewhere
        final int[] positions;  // (R,T)
        final int[] segments;   // (R,T) 0 real, -1 padding
        final float[] logp;     // (R,T)
        final float[] dlogp;    // (R,T)
        final int[] responseTokens; // (R) positions with a target
        final double[] s;       // (R) Σ (or mean) of the response log-probabilities
        final double[] ds;      // (R) d loss / d s
        final long[] rowSeeds;  // (R) dropout seed of each answer row, from its group's seed
        /** Sequence length T of the last layout. */
        int T;

        State(GptConfig model, int maxRows, int maxT) {
            gpt = new Gpt(model, maxRows, maxT);
            int n = maxRows * maxT;
            tokens = new int[n];
            targets = new int[n];
            positions = new int[n];
            segments = new int[n];
            logp = new float[n];
            dlogp = new float[n];
            responseTokens = new int[maxRows];
            s = new double[maxRows];
            ds = new double[maxRows];
            rowSeeds = new long[maxRows];
        }
    }

    @Override
    public String stateKey() {
        return "dpo:" + model + ":" + microBatch + "x" + maxK + "x" + maxT;
    }

    @Override
    public State createState(int paramCount) {
        int expected = ParamLayout.of(model).size();
        if (paramCount != expected) {
            throw new IllegalArgumentException("parameters have " + paramCount + " floats, the policy needs " + expected);
        }
        return newState();
    }

    @Override
    public State newState() {
        return new State(model, microBatch * maxK, maxT - 1);
    }

    @Override
    public String[] statNames() {
        return STATS;
    }

    @Override
    public void accumulate(State st, float[] params, List<DpoExample> batch, long[] seeds, float[] grads,
            LossStats stats) {
        int R = forward(st, params, groups(batch), true, seeds);
        int T = st.gpt.time();
        Arrays.fill(st.ds, 0, R, 0);
        pairLosses(st, batch, stats, true);
        Arrays.fill(st.dlogp, 0, R * T, 0f);
        for (int r = 0; r < R; r++) {
            float g = (float) (preference.kind() == PreferenceLoss.Kind.IPO ? st.ds[r] / st.responseTokens[r] : st.ds[r]);
            for (int t = 0; t < T; t++) {
                if (st.targets[r * T + t] >= 0) {
                    st.dlogp[r * T + t] = g;
                }
            }
        }
        st.gpt.lmHeadBackward(params, grads, st.dlogp, null);
        st.gpt.backward(params, grads);
    }

    /** The loss sums of a batch without dropout or gradient (evaluation). */
    @Override
    public void evaluate(State st, float[] params, List<DpoExample> batch, LossStats stats) {
        forward(st, params, groups(batch), false, null);
        pairLosses(st, batch, stats, false);
    }

    /**
     * Σ of the response log-probabilities of every answer of {@code batch}, group after group,
     * into {@code out} from {@code outOff}, without dropout: the reference model's numbers.
     * Returns the number of answers written.
     */
    public int sequenceLogprobs(State st, float[] params, List<PromptGroup> batch, double[] out, int outOff) {
        int R = forward(st, params, batch, false, null);
        for (int r = 0; r < R; r++) {
            out[outOff + r] = sum(st, r);
        }
        return R;
    }

    private static List<PromptGroup> groups(List<DpoExample> batch) {
        return batch.stream().map(DpoExample::group).toList();
    }

    /**
     * Lays out the batch and runs the model once over all its answers; the response log-probability
     * sums in st.s (IPO: means); returns R. Answer k of group g draws its dropout from
     * (groupSeeds[g], k), so an answer's masks don't depend on which groups share its micro-batch.
     */
    private int forward(State st, float[] params, List<PromptGroup> batch, boolean training, long[] groupSeeds) {
        int R = layout(st, batch);
        int T = st.T;
        if (training) {
            int row = 0;
            for (int g = 0; g < batch.size(); g++) {
                for (int k = 0; k < batch.get(g).answers(); k++) {
                    st.rowSeeds[row++] = Rng.bits(groupSeeds[g], -2, k);
                }
            }
        }
        st.gpt.forward(params, st.tokens, st.positions, st.segments, R, T, training, st.rowSeeds);
        st.gpt.lmHeadForward(params, st.targets, 1f, st.logp, null);
        for (int r = 0; r < R; r++) {
            double v = sum(st, r);
            st.s[r] = preference.kind() == PreferenceLoss.Kind.IPO ? v / st.responseTokens[r] : v;
        }
        return R;
    }

    private static double sum(State st, int r) {
        int T = st.T;
        double v = 0;
        for (int t = 0; t < T; t++) {
            v += st.logp[r * T + t]; // 0 where there is no target
        }
        return v;
    }

    /**
     * Adds each group's loss (weight 1, the mean over its pairs) and statistics; with
     * {@code grad}, accumulates d loss / d s into st.ds.
     */
    private void pairLosses(State st, List<DpoExample> batch, LossStats stats, boolean grad) {
        boolean mean = preference.kind() == PreferenceLoss.Kind.IPO;
        double beta = preference.beta();
        int off = 0;
        for (DpoExample e : batch) {
            PromptGroup g = e.group();
            int P = g.pairs();
            double l = 0;
            for (int p = 0; p < P; p++) {
                int b = off + g.better()[p];
                int w = off + g.worse()[p];
                double refB = e.refLogp()[g.better()[p]];
                double refW = e.refLogp()[g.worse()[p]];
                if (mean) {
                    refB /= st.responseTokens[b];
                    refW /= st.responseTokens[w];
                }
                double ratioB = st.s[b] - refB;
                double ratioW = st.s[w] - refW;
                double delta = ratioB - ratioW;
                l += preference.loss(delta);
                if (grad) {
                    double d = preference.gradient(delta) / P;
                    st.ds[b] += d;
                    st.ds[w] -= d;
                }
                stats.add(1, delta > 0 ? 1 : 0);
                stats.add(2, beta * delta);
                stats.add(3, beta * ratioB);
                stats.add(4, beta * ratioW);
                stats.add(5, st.s[b]);
                stats.add(6, st.s[w]);
            }
            // the best answer's mean NLL per token: -s/n of the sum, or -s of IPO's mean
            int best = off + g.best();
            double n = st.responseTokens[best];
            double nll = mean ? -st.s[best] : -st.s[best] / n;
            stats.add(8, nll);
            if (grad && nllCoef > 0) {
                st.ds[best] -= mean ? nllCoef : nllCoef / n;
            }
            stats.addLoss(l / P + nllCoef * nll, 1);
            stats.add(0, P);
            for (int[] seq : g.sequences()) {
                stats.add(7, seq.length);
            }
            off += g.answers();
        }
    }

    /**
     * Fills (R, T) from the groups, T = their longest answer minus one (kept in st.T); returns R.
     * Row r: the answer's tokens but its last as inputs, positions 0.., targets on the response.
     */
    private int layout(State st, List<PromptGroup> batch) {
        PromptGroup.BatchShape shape = PromptGroup.shape(batch, microBatch, maxK, maxT);
        int T = Math.max(1, shape.longest() - 1);
        int R = shape.rows();
        int row = 0;
        for (PromptGroup g : batch) {
            int firstTarget = Math.max(1, g.promptLength()); // position t predicts token t+1
            for (int[] seq : g.sequences()) {
                int o = row * T;
                int n = seq.length - 1;
                int targets = 0;
                for (int t = 0; t < n; t++) {
                    st.tokens[o + t] = seq[t];
                    st.positions[o + t] = t;
                    st.segments[o + t] = 0;
                    boolean response = t + 1 >= firstTarget;
                    st.targets[o + t] = response ? seq[t + 1] : -1;
                    targets += response ? 1 : 0;
                }
                for (int t = n; t < T; t++) {
                    st.tokens[o + t] = padId;
                    st.targets[o + t] = -1;
                    st.positions[o + t] = Math.min(t, model.maxSeqLen() - 1);
                    st.segments[o + t] = -1;
                }
                if (targets == 0) {
                    throw new IllegalArgumentException(g.where() + ": an answer has no token after the prompt to score");
                }
                st.responseTokens[row] = targets;
                row++;
            }
        }
        st.T = T;
        return R;
    }
}
