package rlhf.sft;

import java.util.Arrays;
import java.util.List;

import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.Losses;
import rlhf.model.ParamLayout;
import rlhf.spark.LossStats;
import rlhf.spark.EvalLoss;

/**
 * The SFT loss: next-token cross-entropy on the positions that carry a target (the response
 * tokens, or all), summed here and divided by the number of such tokens in the whole global
 * batch by the trainer, so every target token weighs the same whatever the partitioning.
 *
 * <p>A micro-batch of B sequences is laid out (B, T) with T its longest sequence; the rest of
 * each row is padding with target -1, a segment of its own (-1) and positions continuing from
 * the row's last one, so no real token attends to it (causal attention, segments) and it adds
 * nothing to the loss or the gradient. Packed rows bring their own positions and segments.
 *
 * <p>Dropout masks come from the first example's seed of the micro-batch: deterministic for a
 * given run, but another partitioning groups examples differently. Without dropout, examples
 * do not interact and only the float summation order depends on the grouping.
 */
public final class SftLoss implements EvalLoss<Sequence, SftLoss.State> {

    private static final long serialVersionUID = 1L;

    /** Extra sums: input tokens (padding excluded) and examples (packed ones counted one by one). */
    public static final String[] STATS = {"tokens", "examples"};

    private final GptConfig model;
    private final int microBatch;
    private final int contextLength;
    private final int padId;

    /**
     * @param contextLength the longest sequence is contextLength - 1 inputs
     * @param padId         token id written into padding (any valid id: it is never attended to)
     */
    public SftLoss(GptConfig model, int microBatch, int contextLength, int padId) {
        if (contextLength - 1 > model.maxSeqLen() || contextLength < 2) {
            throw new IllegalArgumentException("context length " + contextLength + " must be in 2.." + (model.maxSeqLen() + 1)
                    + " (the model's n_positions is " + model.maxSeqLen() + ")");
        }
        if (padId < 0 || padId >= model.vocabSize()) {
            throw new IllegalArgumentException("pad id " + padId + " outside the vocabulary [0, " + model.vocabSize() + ")");
        }
        this.model = model;
        this.microBatch = microBatch;
        this.contextLength = contextLength;
        this.padId = padId;
    }

    public GptConfig model() {
        return model;
    }

    /** Per-task workspace: the model's activations and the batch arrays for (microBatch, T-1). */
    public static final class State {
        final Gpt gpt;
        final int[] tokens;
        final int[] targets;
        final int[] positions;
        final int[] segments;
        final float[] logp;
        final float[] dlogp;

        State(GptConfig model, int maxB, int maxT) {
            this.gpt = new Gpt(model, maxB, maxT);
            int n = maxB * maxT;
            tokens = new int[n];
            targets = new int[n];
            positions = new int[n];
            segments = new int[n];
            logp = new float[n];
            dlogp = new float[n];
        }
    }

    @Override
    public String stateKey() {
        return "sft:" + model + ":" + microBatch + "x" + (contextLength - 1);
    }

    @Override
    public State createState(int paramCount) {
        int expected = ParamLayout.of(model).size();
        if (paramCount != expected) {
            throw new IllegalArgumentException("parameters have " + paramCount + " floats, the SFT model needs " + expected);
        }
        return new State(model, microBatch, contextLength - 1);
    }

    @Override
    public String[] statNames() {
        return STATS;
    }

    @Override
    public void accumulate(State s, float[] params, List<Sequence> batch, long[] seeds, float[] grads,
            LossStats stats) {
        int B = batch.size();
        int T = layout(s, batch);
        int BT = B * T;
        // one dropout seed per row (seeds[i] belongs to batch.get(i)): masks independent of grouping
        s.gpt.forward(params, s.tokens, s.positions, s.segments, B, T, true, seeds);
        s.gpt.lmHeadForward(params, s.targets, 1f, s.logp, null);
        addStats(s, batch, BT, stats);
        Arrays.fill(s.dlogp, 0, BT, 0f);
        Losses.tokenCrossEntropyBackward(s.dlogp, s.targets, BT, 1f);
        s.gpt.lmHeadBackward(params, grads, s.dlogp, null);
        s.gpt.backward(params, grads);
    }

    /** The loss sums of a batch without dropout or gradient (evaluation). */
    @Override
    public void evaluate(State s, float[] params, List<Sequence> batch, LossStats stats) {
        int T = layout(s, batch);
        s.gpt.forward(params, s.tokens, s.positions, s.segments, batch.size(), T, false, 0L);
        s.gpt.lmHeadForward(params, s.targets, 1f, s.logp, null);
        addStats(s, batch, batch.size() * T, stats);
    }

    /** A fresh workspace of this loss's shape (driver-side evaluation, tests, benchmarks). */
    @Override
    public State newState() {
        return new State(model, microBatch, contextLength - 1);
    }

    private static void addStats(State s, List<Sequence> batch, int BT, LossStats stats) {
        stats.addLoss(Losses.tokenCrossEntropySum(s.logp, s.targets, BT), Losses.countTargets(s.targets, BT));
        long tokens = 0;
        long examples = 0;
        for (Sequence q : batch) {
            tokens += q.length();
            examples += q.examples();
        }
        stats.add(0, tokens);
        stats.add(1, examples);
    }

    /** Fills the (B, T) arrays from the batch, T = its longest sequence; returns T. */
    private int layout(State s, List<Sequence> batch) {
        int B = batch.size();
        if (B == 0 || B > microBatch) {
            throw new IllegalArgumentException("micro-batch of " + B + " sequences, expected 1.." + microBatch);
        }
        int T = 0;
        for (Sequence q : batch) {
            T = Math.max(T, q.length());
        }
        if (T > contextLength - 1) {
            throw new IllegalArgumentException("a sequence of " + T + " inputs exceeds the context ("
                    + (contextLength - 1) + " inputs for " + contextLength + " tokens)");
        }
        for (int b = 0; b < B; b++) {
            Sequence q = batch.get(b);
            int n = q.length();
            int o = b * T;
            System.arraycopy(q.tokens(), 0, s.tokens, o, n);
            System.arraycopy(q.targets(), 0, s.targets, o, n);
            int last = 0;
            for (int t = 0; t < n; t++) {
                s.positions[o + t] = q.position(t);
                s.segments[o + t] = q.segment(t);
                last = Math.max(last, q.position(t));
            }
            for (int t = n; t < T; t++) {
                s.tokens[o + t] = padId;
                s.targets[o + t] = -1;
                s.positions[o + t] = Math.min(++last, model.maxSeqLen() - 1);
                s.segments[o + t] = -1;
            }
        }
        return T;
    }
}
