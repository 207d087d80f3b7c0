/**
 * What a run reports: per-step metrics as JSON lines ({@link rlhf.metrics.MetricsLog}, resumable),
 * the console progress line ({@link rlhf.metrics.ConsoleProgress}), HTML reports with PNG charts
 * ({@link rlhf.metrics.Report}, {@link rlhf.metrics.Chart}), and a best-of-n report's frontier
 * read back for PPO ({@link rlhf.metrics.BestOfNFrontier}).
 */
package rlhf.metrics;
