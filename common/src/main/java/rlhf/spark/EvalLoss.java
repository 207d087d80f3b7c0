package rlhf.spark;

import java.util.List;

/**
 * A training loss that can also be measured without training: forward only, no dropout, no
 * gradient ({@link EvalPass}).
 */
public interface EvalLoss<E, S> extends PartitionLoss<E, S> {

    /** A fresh workspace of this loss's shape (cached per JVM by the evaluation pass). */
    S newState();

    /** Adds the loss sums of one micro-batch to {@code stats}, as {@link #accumulate} would without gradient. */
    void evaluate(S state, float[] params, List<E> batch, LossStats stats);
}
