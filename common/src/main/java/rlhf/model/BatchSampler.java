package rlhf.model;

import java.util.Arrays;

/**
 * A {@link Generator} with its prompt buffers: samples the completions of a batch of prompts given
 * as token arrays. The one way a batch is sampled (PPO's rollouts, best-of-n, the generate
 * command). Sized once for (maxB, maxPromptLen, maxNewTokens); not thread-safe.
 */
public final class BatchSampler {

    private final Generator generator;
    private final int maxPromptLen;
    private final int[] rows;     // (B, promptT) for the current call, right-padded
    private final int[] lengths;  // (B)
    private final long[] keys;    // (B)

    public BatchSampler(GptConfig cfg, int maxB, int maxPromptLen, int maxNewTokens) {
        this.generator = new Generator(cfg, maxB, maxPromptLen, maxNewTokens);
        this.maxPromptLen = maxPromptLen;
        this.rows = new int[maxB * maxPromptLen];
        this.lengths = new int[maxB];
        this.keys = new long[maxB];
    }

    /**
     * The completions of {@code prompts[0..B)}: row b starts from prompts[b] (1..maxPromptLen
     * tokens; the padding {@code padId} after it is never attended to) and draws with the sampling
     * key {@code rowKeys[b]}.
     *
     * @return the generator's result, reused: valid until the next call
     */
    public Generation sample(float[] params, int[][] prompts, long[] rowKeys, int B, int padId, GenerationConfig gc) {
        if (B < 1 || B > lengths.length) {
            throw new IllegalArgumentException("batch of " + B + " prompts, expected 1.." + lengths.length);
        }
        int promptT = 1;
        for (int b = 0; b < B; b++) {
            int len = prompts[b].length;
            if (len < 1 || len > maxPromptLen) {
                throw new IllegalArgumentException("prompt " + b + " of the batch has " + len + " tokens, expected 1.."
                        + maxPromptLen);
            }
            promptT = Math.max(promptT, len);
        }
        for (int b = 0; b < B; b++) {
            int[] p = prompts[b];
            System.arraycopy(p, 0, rows, b * promptT, p.length);
            Arrays.fill(rows, b * promptT + p.length, (b + 1) * promptT, padId);
            lengths[b] = p.length;
            keys[b] = rowKeys[b];
        }
        return generator.generate(params, rows, promptT, lengths, B, gc, keys);
    }
}
