package rlhf.optim;

import rlhf.model.ParamLayout;

/**
 * AdamW as an {@link ElementwiseOptimizer}: the update of {@link AdamW} with its learning rate
 * from a schedule or a {@link LearningRate}, over any shard of the parameters; the state (m, v) lives with the caller.
 * Carries only the constants and the decayed ranges of the layout (a few hundred ints), so that
 * shipping it with every shard's task costs nothing.
 */
public final class AdamWUpdate implements ElementwiseOptimizer {

    private static final long serialVersionUID = 1L;

    private final AdamW.Hyper hyper;
    private final LearningRate rate;
    private final int[] decayRanges;

    /** AdamW with {@code settings} on {@code layout} (weight decay on matrices only) at the rates of {@code schedule}. */
    public AdamWUpdate(AdamWSettings settings, ParamLayout layout, LrSchedule schedule) {
        this(settings, layout, (step, updates) -> schedule.lr(step));
    }

    /** AdamW with {@code settings} on {@code layout} (weight decay on matrices only) at {@code rate}. */
    public AdamWUpdate(AdamWSettings settings, ParamLayout layout, LearningRate rate) {
        this.hyper = new AdamW.Hyper(settings.beta1(), settings.beta2(), settings.eps(), settings.weightDecay());
        this.rate = rate;
        this.decayRanges = AdamW.decayRanges(layout, false);
    }

    @Override
    public int stateSlots() {
        return 2;
    }

    @Override
    public void update(float[] params, float[] grads, float gradScale, float[][] state, int offset, int step,
            long updates) {
        AdamW.update(params, grads, gradScale, state[0], state[1], offset, decayRanges, hyper, rate.at(step, updates),
                updates + 1);
    }
}
