package rlhf.optim;

import java.io.Serializable;

/**
 * The learning rate of an update: by the trainer's step ({@link LrSchedule}) or by the updates the
 * optimizer has done (PPO, whose rate decays over its planned minibatch updates). Serializable:
 * it travels with the optimizer to the executors.
 */
@FunctionalInterface
public interface LearningRate extends Serializable {

    /**
     * @param step    the trainer's 0-based step
     * @param updates the updates done before this one
     */
    float at(int step, long updates);
}
