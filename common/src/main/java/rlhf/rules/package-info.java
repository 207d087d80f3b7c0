/**
 * Rewards computed by rules rather than learned: {@link rlhf.rules.RuleReward}, the interface a
 * user implements for a verifiable task and names by class in a job's configuration
 * ({@code reward.kind = rule}, {@code reward.rule = CLASS}). The jobs never know a concrete rule;
 * the demo's exact oracle is one such class in the demo's own module.
 */
package rlhf.rules;
