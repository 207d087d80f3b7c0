/**
 * Supervised fine-tuning ({@link rlhf.sft.SftJob}, {@code bin/rlhf sft}): demonstrations (prompt /
 * response, Alpaca or chat rows) read by {@link rlhf.data.DatasetSource}, turned into training
 * sequences on the executors ({@link rlhf.sft.SftExamples}: tokenize, append end-of-text, mask the
 * prompt, apply the over-long policy, optionally pack into {@link rlhf.sft.Sequence}s) and cached
 * ({@link rlhf.sft.SftData}); then the shared stage loop ({@link rlhf.spark.StageLoop}) trains with
 * {@link rlhf.sft.SftLoss} (cross-entropy per target token) and evaluates with
 * {@link rlhf.sft.SftEval}. Keys: {@link rlhf.sft.SftSettings}, conf/sft.properties.
 */
package rlhf.sft;
