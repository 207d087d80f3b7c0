package rlhf.spark;

import java.io.Serializable;
import java.util.List;

/**
 * The only part of data-parallel training that differs between jobs: forward + backward of a
 * loss on a micro-batch of examples, on an executor.
 *
 * <p>The loss object is serialized into every task, so keep it small (configuration only). Heavy
 * things (the model's activation workspaces, KV caches) go in the executor state {@code S}, made
 * once per JVM by {@link #createState} and reused across steps and tasks; a JVM running several
 * tasks at once holds one state per concurrent task (never shared between two running tasks).
 *
 * @param <E> one training example (a tokenized sequence, a preference pair, a rollout)
 * @param <S> per-JVM executor state
 */
public interface PartitionLoss<E, S> extends Serializable {

    /**
     * Names the kind of state: states are cached per JVM under (stateKey, parameter count), so two
     * losses that can share workspaces may return the same key, and a different model shape must
     * return a different key (e.g. "sft:" + config).
     */
    String stateKey();

    /** Builds the executor state for a model of {@code paramCount} parameters (once per JVM and slot). */
    S createState(int paramCount);

    /** Names of the extra sums this loss adds with {@link LossStats#add}; empty by default. */
    default String[] statNames() {
        return new String[0];
    }

    /**
     * Forward and backward on one micro-batch: ADDS (+=) to {@code grads} the gradient of the loss
     * SUMMED over the examples' weight units, and adds the sums to {@code stats}. Not normalised:
     * the driver divides by the global weight. Must not modify {@code params} (the broadcast value,
     * shared by the tasks of the JVM).
     *
     * @param examples at most microBatch examples of this step's global batch, in global index order
     * @param seeds    one seed per example, from (run seed, step, global index): the only source of
     *                 randomness allowed (dropout, sampling)
     */
    void accumulate(S state, float[] params, List<E> examples, long[] seeds, float[] grads, LossStats stats);
}
