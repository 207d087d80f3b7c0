/**
 * Data-parallel training on Spark: the executors hold the cached examples and compute gradients,
 * and an exchange turns them into the update, on the driver (which holds the parameters and the
 * optimizer state) or shard by shard on the executors (which then keep both, and the driver only
 * the caller's array, brought up to date by a pull) (docs/ARCHITECTURE.md). On a cluster the
 * driver's exchange moves the parameters and the gradients as raw floats over TCP connections of
 * its own ({@code DirectTransfer}; {@code spark.rlhf.transfer=spark} sends them through Spark's
 * broadcast and block manager); Spark schedules, retries and reruns the tasks either way.
 *
 * <p>A job plugs in with a {@link rlhf.spark.PartitionLoss} (forward + backward of its loss on a
 * micro-batch, summed, not averaged) and an {@link rlhf.optim.ElementwiseOptimizer}:
 *
 * <pre>{@code
 * IndexedData<Example> data = IndexedData.cache(examplesRdd, StorageLevel.MEMORY_AND_DISK(), "sft train " + path);
 * var adamw = new AdamWUpdate(adamWSettings, layout, new LrSchedule(maxLr, minLr, warmup, steps));
 * var trainer = new DataParallelTrainer<>(jsc, new TrainerConfig("sft", globalBatch, microBatch, seed, 1.0f, steps),
 *         new SftLoss(cfg, maxT), params, adamw, data);
 * if (resuming) {                 // params restored by the caller first
 *     trainer.restoreOptimizer(new OptimizerState(new float[][] {m, v}, adamStep));
 *     trainer.resumeFrom(TrainerState.fromJson(ckpt.training().trainerState(), dir + "/trainer_state.json"));
 * }
 * while (trainer.state().step() < steps) {
 *     StepResult r = trainer.step();  // r.loss() per token, r.mean("accuracy"), r.gradNorm()
 *     ...                             // log; checkpoint with trainer.params(), trainer.state(), trainer.optimizerState()
 * }
 * trainer.close();                    // pulls the parameters into params; frees the executors' shards
 * }</pre>
 *
 * <p>PPO: {@link rlhf.spark.Partitions#mapCached} generates and scores rollouts with snapshot
 * broadcasts, {@link rlhf.spark.Partitions#runOnEach} gathers small statistics in partition order,
 * and every minibatch update is one step of the {@link rlhf.spark.Exchange} over two models (policy,
 * critic) and up to two sources (the rollouts, the PPO-ptx demonstrations): the same reduction,
 * clipping and optimizer as SFT's, on the driver or sharded on the executors.
 *
 * <p>SFT and the reward model are the same kind of stage: a fixed data set, AdamW on a warmup +
 * cosine schedule, periodic evaluation, resumable checkpoints. They read the same training keys
 * ({@link rlhf.spark.TrainingSettings}), start the same way ({@link rlhf.spark.ModelStart},
 * {@link rlhf.spark.StageStart}), run the same loop ({@link rlhf.spark.StageLoop}), and evaluate
 * with the same pass ({@link rlhf.spark.EvalPass}); a job adds only its loss, metrics and the
 * settings a resume must keep ({@link rlhf.spark.StageLoop.Job}), so the two cannot drift apart
 * in how they log, checkpoint or resume.
 *
 * <p>Jobs that sample from a policy (PPO, best-of-n) load and check their models with
 * {@link rlhf.spark.RolloutModels} and their prompts with {@link rlhf.spark.PromptSet}; a task
 * reads parameters handed to it with {@link rlhf.spark.Params#of}.
 */
package rlhf.spark;
