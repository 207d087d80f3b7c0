package rlhf.model;

/**
 * How to sample a completion.
 *
 * @param maxNewTokens completion length limit (>= 1)
 * @param temperature  0 = greedy (argmax); otherwise logits are divided by it before softmax
 * @param topK         keep only the k most probable tokens (0 = off)
 * @param topP         keep the smallest most-probable set whose mass reaches topP (1 = off)
 * @param eosId        a row stops after sampling this id (included in its completion); -1 = none
 * @param seed         sampling seed; token i of the row with key r uses uniform (seed, r, i)
 */
public record GenerationConfig(int maxNewTokens, float temperature, int topK, float topP, int eosId, long seed) {

    public GenerationConfig {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max_new_tokens must be >= 1, found " + maxNewTokens);
        }
        if (!(temperature >= 0f) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0 and finite, found " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0 (0 = off), found " + topK);
        }
        if (!(topP > 0f && topP <= 1f)) {
            throw new IllegalArgumentException("top_p must be in (0, 1] (1 = off), found " + topP);
        }
    }

    /** Greedy decoding. */
    public static GenerationConfig greedy(int maxNewTokens, int eosId) {
        return new GenerationConfig(maxNewTokens, 0f, 0, 1f, eosId, 0L);
    }
}
