/**
 * Datasets as the jobs read them, through Spark SQL ({@link rlhf.data.DatasetSource}): JSON lines,
 * Parquet or tables, a user's column names mapped onto ours, bad rows dropped (counted per kind,
 * the first few named by file and row, up to a budget) or failed on. JSON lines are typed row by
 * row ({@link rlhf.data.JsonLineRows}), not by Spark's per-column inference. Rows become {@link rlhf.data.Demonstration}s (SFT),
 * {@link rlhf.data.PreferencePair}s and {@link rlhf.data.Ranking}s (reward model; both are
 * {@link rlhf.data.Preference}s, and one file may mix them row by row) or
 * {@link rlhf.data.Prompt}s (PPO, best-of-n), each formatted by one {@link rlhf.data.PromptTemplate}
 * (Alpaca, plain, a user's; chat rows by {@link rlhf.data.ChatTemplate}), the same in every stage.
 */
package rlhf.data;
