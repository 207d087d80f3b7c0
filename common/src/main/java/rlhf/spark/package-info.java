/**
 * Data-parallel training on Spark: the driver holds the parameters and the optimizer, the
 * executors hold the cached examples and compute gradients (docs/ARCHITECTURE.md).
 *
 * <p>A job plugs in with a {@link rlhf.spark.PartitionLoss} (forward + backward of its loss on a
 * micro-batch, summed, not averaged) and an {@link rlhf.spark.Optimizer}:
 *
 * <pre>{@code
 * IndexedData<Example> data = IndexedData.cache(examplesRdd, StorageLevel.MEMORY_AND_DISK(), "sft train " + path);
 * AdamW adamw = new AdamW(layout, weightDecay);
 * LrSchedule lr = new LrSchedule(maxLr, minLr, warmup, steps);
 * var trainer = new DataParallelTrainer<>(jsc, new TrainerConfig("sft", globalBatch, microBatch, seed, 1.0f, steps),
 *         new SftLoss(cfg, maxT), params, (p, g, s) -> adamw.update(p, g, lr.lr(s)), data);
 * if (resuming) {                 // params and AdamW moments restored by the caller first
 *     trainer.resumeFrom(TrainerState.fromJson(ckpt.training().trainerState(), dir + "/trainer_state.json"));
 * }
 * while (trainer.state().step() < steps) {
 *     StepResult r = trainer.step();  // r.loss() per token, r.mean("accuracy"), r.gradNorm()
 *     ...                             // log; checkpoint with trainer.state().toJson()
 * }
 * }</pre>
 *
 * <p>PPO: {@link rlhf.spark.Partitions#mapCached} generates rollouts with a snapshot broadcast
 * ({@link rlhf.spark.DataParallelTrainer#broadcastSnapshot()}), {@link rlhf.spark.Partitions#runOnEach}
 * gathers small statistics in partition order, {@link rlhf.spark.IndexedData#cache} indexes the
 * rollouts, and {@link rlhf.spark.DataParallelTrainer#stepOn} runs minibatch steps over them.
 *
 * <p>SFT and the reward model are the same kind of stage: a fixed data set, AdamW on a warmup +
 * cosine schedule, periodic evaluation, resumable checkpoints. They read the same training keys
 * ({@link rlhf.spark.TrainingSettings}), start the same way ({@link rlhf.spark.ModelStart},
 * {@link rlhf.spark.StageStart}), run the same loop ({@link rlhf.spark.StageLoop}), and evaluate
 * with the same pass ({@link rlhf.spark.EvalPass}); a job adds only its loss, metrics and the
 * settings a resume must keep ({@link rlhf.spark.StageLoop.Job}), so the two cannot drift apart
 * in how they log, checkpoint or resume.
 */
package rlhf.spark;
