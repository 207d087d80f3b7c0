/**
 * Where a response's score comes from ({@link rlhf.rules.RewardSource}: {@code reward.kind =
 * model | rule | sum}) and the rewards computed by rules rather than learned: the built-ins
 * ({@link rlhf.rules.BuiltinRules}: exact match against the prompt row's reference, a regular
 * expression, a number within a tolerance, a length penalty) and {@link rlhf.rules.RuleReward},
 * the interface a user implements for a verifiable task and names by class in a job's
 * configuration ({@code reward.rule = CLASS}). The jobs never know a user's rule; the demo's exact
 * oracle is one such class in the demo's own module.
 */
package rlhf.rules;
