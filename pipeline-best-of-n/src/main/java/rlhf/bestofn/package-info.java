/**
 * Best-of-n sampling: n responses per prompt from a policy, scored by a reward model or a rule,
 * the best kept ({@link rlhf.bestofn.BestOfNJob}, {@code bin/rlhf best-of-n}). The chosen
 * responses are SFT data (rejection-sampling fine-tuning); the report is the yardstick a PPO run
 * of the same policy and reward is judged against: the score of the best of k samples for
 * k = 1..n and the KL bound log k - (k-1)/k each costs ({@link rlhf.bestofn.Frontier}).
 *
 * <p>The executors do the sampling and scoring ({@link rlhf.bestofn.BestOfNWorker}); the driver
 * only streams the results, in prompt order, into the output files
 * ({@link rlhf.bestofn.BestOfNReport} keeps the sums). Depends on the common module only.
 */
package rlhf.bestofn;
