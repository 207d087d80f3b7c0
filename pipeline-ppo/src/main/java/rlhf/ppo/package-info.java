/**
 * PPO, GRPO and RLOO against a reward model or a rule ({@link rlhf.ppo.PpoJob},
 * {@link rlhf.ppo.GrpoJob}, {@link rlhf.ppo.RlooJob}; {@code bin/rlhf ppo|grpo|rloo}): one engine,
 * the methods told apart by {@link rlhf.ppo.Algorithm}. GRPO and RLOO have no critic: their
 * advantages come from the G samples of a prompt ({@link rlhf.ppo.GroupAdvantages}), and GRPO may
 * put the KL to the reference in the loss as β·k3 ({@link rlhf.ppo.KlPenalty#lossTerm}). An
 * iteration ({@link rlhf.ppo.PpoTrainer#iterate}) is four phases of Spark jobs over the cached
 * prompts, each an executor-side function of {@link rlhf.ppo.PpoWorker}:
 *
 * <pre>
 *   rollouts  sample the iteration's prompts with the policy ({@link rlhf.model.BatchSampler}) -> {@link rlhf.ppo.Rollout}
 *   scoring   reference logp, critic values, reward (model or rule), per-token rewards -beta KL + score
 *             ({@link rlhf.ppo.KlPenalty}), advantages ({@link rlhf.ppo.Gae}) -> {@link rlhf.ppo.Rollout.Scored}
 *   stats     moments for whitening ({@link rlhf.ppo.Whitening}) and the iteration's metrics
 *   updates   epochs x minibatches of the clipped objective ({@link rlhf.ppo.PpoLoss}), each one step of
 *             the shared exchange for the policy and the critic (and PPO-ptx demonstrations)
 * </pre>
 *
 * The KL coefficient follows {@link rlhf.ppo.KlController}. Every draw derives from (seed,
 * iteration, rollout id), so a resumed run ends with the weights of an uninterrupted one.
 *
 * <p>Reading a run: besides the loss terms, each iteration logs what a user acts on, among them
 * value explained variance, gold_mean (eval.gold_rule), and, against the start policy's best-of-n
 * frontier (eval.best_of_n_report), score_vs_bon and gold_vs_bon; {@link rlhf.ppo.PpoWatch} warns
 * when PPO is not moving or is gaming the reward model. {@link rlhf.ppo.OptimalPolicy} has the exact
 * optima of a one-step bandit (KL in the reward; a k3 loss term), for the tests that check PPO,
 * GRPO and RLOO converge to them.
 */
package rlhf.ppo;
