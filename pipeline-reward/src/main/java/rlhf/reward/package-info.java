/**
 * The reward model ({@link rlhf.reward.RewardJob}, {@code bin/rlhf reward}): a language model
 * with a scalar head ({@link rlhf.reward.ScoreHead}) trained on preferences, pairs or K-wise
 * rankings ({@link rlhf.data.PreferenceGroups}, shared with DPO), with the pairwise
 * Bradley-Terry loss of InstructGPT ({@link rlhf.reward.RankingLoss}, {@link rlhf.reward.RewardLoss})
 * on the shared stage loop, optionally with off-prompt pairs (another row's best answer after this
 * row's prompt, ranked below this row's best: {@link rlhf.data.PreferenceGroups#withOffPromptAnswers});
 * {@link rlhf.reward.RewardEval} measures pairwise accuracy and margin.
 * The final model records in config.json how it scores (EOS appended) and its reward mean and std
 * ({@link rlhf.io.RewardScale}), which PPO and best-of-n read. {@link rlhf.reward.RewardScoring}
 * scores a DataFrame from a user's own Spark code. Keys: {@link rlhf.reward.RewardSettings}.
 */
package rlhf.reward;

