package rlhf.optim;

/**
 * The state of an {@link ElementwiseOptimizer} over all parameters, as checkpoints keep it.
 *
 * @param slots   {@link ElementwiseOptimizer#stateSlots()} arrays of the parameters' layout (AdamW: m, v)
 * @param updates the updates done so far (AdamW's bias correction)
 */
public record OptimizerState(float[][] slots, long updates) {

    public OptimizerState {
        if (updates < 0) {
            throw new IllegalArgumentException("optimizer state has " + updates + " updates; expected >= 0");
        }
    }

    /** A fresh state: zeros, no updates. */
    public static OptimizerState zeros(int slots, int params) {
        return new OptimizerState(new float[slots][params], 0);
    }

    /** Throws unless this state has {@code slots} arrays of {@code params} floats. */
    public void requireShape(int slots, int params) {
        boolean ok = this.slots.length == slots;
        for (float[] s : this.slots) {
            ok &= s.length == params;
        }
        if (!ok) {
            throw new IllegalArgumentException("optimizer state has " + this.slots.length + " arrays of "
                    + (this.slots.length == 0 ? 0 : this.slots[0].length) + " floats; expected " + slots + " of "
                    + params);
        }
    }
}
