/**
 * Direct preference optimisation ({@link rlhf.dpo.DpoJob}, {@code bin/rlhf dpo}): a policy trained
 * on preferences without a reward model, by the sigmoid loss of DPO, its conservative variant
 * (label smoothing) or IPO ({@link rlhf.dpo.PreferenceLoss}), on the shared stage loop
 * ({@link rlhf.dpo.DpoLoss}). Preferences are read exactly as the reward model reads them (pairs
 * or K-wise rankings, {@link rlhf.data.PreferenceGroups}); the reference model's log-probability of
 * every answer is computed once, in one Spark pass, and its weights freed before training
 * ({@link rlhf.dpo.ReferenceLogprobs}). {@link rlhf.dpo.DpoEval} measures the implicit reward's
 * pairwise accuracy and margin. Keys: {@link rlhf.dpo.DpoSettings}.
 */
package rlhf.dpo;
