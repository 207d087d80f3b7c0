package rlhf.optim;

import java.io.Serializable;

/**
 * An optimizer whose update of parameter i reads and writes only element i of the parameters, of
 * the gradient and of its per-parameter state (AdamW's two moments). Any contiguous shard of the
 * parameters can therefore be updated on its own, wherever its state lives, with the bits of a
 * whole-array update: the trainer runs it on the driver, or shard by shard on the executors.
 * Serializable: it is shipped to the executors with the shards' tasks.
 */
public interface ElementwiseOptimizer extends Serializable {

    /** Per-parameter state arrays (AdamW: m and v). */
    int stateSlots();

    /**
     * One update, in place, of the parameters [offset, offset + params.length): {@code params},
     * {@code grads} and every {@code state[k]} hold those elements, element 0 being parameter
     * {@code offset} of the model's layout.
     *
     * @param gradScale each gradient is multiplied by it as it is read (the clip factor), the
     *                  array left as it is: one pass over the update instead of two
     * @param step      the trainer's 0-based step (the learning-rate schedule)
     * @param updates   the updates done before this one (bias correction)
     */
    void update(float[] params, float[] grads, float gradScale, float[][] state, int offset, int step, long updates);
}
