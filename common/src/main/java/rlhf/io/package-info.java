/**
 * Checkpoints in the Hugging Face GPT-2 layout: safetensors ({@link rlhf.io.Safetensors}),
 * config.json ({@link rlhf.io.ModelConfigJson}, with the project's extras such as a reward
 * model's scale, {@link rlhf.io.RewardScale}), tokenizer files, and for training checkpoints the
 * optimizer moments and trainer state ({@link rlhf.io.Checkpoint}: written under a temporary name,
 * renamed and sealed when complete; {@link rlhf.io.RunCheckpoints} keeps the newest K). GPT-2's
 * tensor names and the transposed Conv1D layout of Hugging Face files are handled by
 * {@link rlhf.io.Gpt2Weights}, both ways. Everything goes through
 * Hadoop's FileSystem, so any path the cluster reaches works. {@link rlhf.io.ShippedConfig} carries
 * a config.json to the executors.
 */
package rlhf.io;
