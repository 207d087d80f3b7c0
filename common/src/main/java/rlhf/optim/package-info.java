/**
 * Optimizers over flat parameter arrays: {@link rlhf.optim.AdamW} (decoupled weight decay, only on
 * the views a layout marks), global-norm clipping ({@link rlhf.optim.GradClip}), warmup + cosine
 * schedules ({@link rlhf.optim.LrSchedule}, {@link rlhf.optim.LearningRate}). The exchange runs
 * them as {@link rlhf.optim.ElementwiseOptimizer}s: element i of the update reads only element i
 * of parameters, gradient and state, so any shard can be updated where it lives (on the driver or
 * on the executor that owns it) with the same bits. {@link rlhf.optim.OptimizerState} is what a
 * checkpoint keeps.
 */
package rlhf.optim;
