package rlhf.model;

/**
 * The completions of one {@link Generator#generate} call, reused across calls: per row the
 * sampled tokens (EOS included when sampled), the log-probability of each under the
 * temperature-scaled softmax before top-k/top-p filtering (temperature 1 when greedy), the
 * completion length and whether the row ended with EOS. Flat arrays (maxB, maxNewTokens).
 */
public final class Generation {

    private final int maxNewTokens;
    final int[] tokens;
    final float[] logprobs;
    final int[] lengths;
    final boolean[] endedWithEos;
    int rows;

    Generation(int maxB, int maxNewTokens) {
        this.maxNewTokens = maxNewTokens;
        this.tokens = new int[maxB * maxNewTokens];
        this.logprobs = new float[maxB * maxNewTokens];
        this.lengths = new int[maxB];
        this.endedWithEos = new boolean[maxB];
    }

    /** Rows in the last call. */
    public int rows() {
        return rows;
    }

    /** Row stride of {@link #tokens()} and {@link #logprobs()}. */
    public int stride() {
        return maxNewTokens;
    }

    public int length(int b) {
        return lengths[b];
    }

    public boolean endedWithEos(int b) {
        return endedWithEos[b];
    }

    public int token(int b, int i) {
        return tokens[b * maxNewTokens + i];
    }

    public float logprob(int b, int i) {
        return logprobs[b * maxNewTokens + i];
    }

    /** Row b's completion tokens as a new array (convenience; allocates). */
    public int[] completion(int b) {
        return java.util.Arrays.copyOfRange(tokens, b * maxNewTokens, b * maxNewTokens + lengths[b]);
    }

    /** Flat (rows, stride) tokens; entries past a row's length are unspecified. */
    public int[] tokens() {
        return tokens;
    }

    /** Flat (rows, stride) log-probabilities. */
    public float[] logprobs() {
        return logprobs;
    }
}
