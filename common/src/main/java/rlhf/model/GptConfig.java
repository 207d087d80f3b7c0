package rlhf.model;

/**
 * The shape and variant of a Transformer, immutable and validated at construction.
 *
 * <p>Field names follow Hugging Face's GPT2Config where one exists (n_layer, n_head, n_embd,
 * n_positions, vocab_size, layer_norm_epsilon); the variants (attention direction, position
 * encoding, LayerNorm placement, activation, score head) are our own fields in config.json.
 *
 * <p>Dimension vocabulary used in every kernel: B batch, T time, C channels (n_embd),
 * NH heads, HS head size (C / NH), V vocabulary, L layers.
 */
public record GptConfig(
        int vocabSize,
        int maxSeqLen,
        int nLayer,
        int nHead,
        int nEmbd,
        float layerNormEpsilon,
        Activation activation,
        boolean causal,
        Positions positions,
        Norm norm,
        float embdDropout,
        float attnDropout,
        float residDropout,
        boolean scoreHead) implements java.io.Serializable {

    /** MLP nonlinearity. GELU is the tanh approximation GPT-2 uses ("gelu_new"). */
    public enum Activation { GELU, RELU }

    /** Learned position embeddings (wpe, GPT-2) or fixed sinusoids (original Transformer). */
    public enum Positions { LEARNED, SINUSOIDAL }

    /** LayerNorm before each sub-block (GPT-2) or after the residual add (original Transformer). */
    public enum Norm { PRE_LN, POST_LN }

    public GptConfig {
        requirePositive("vocab_size", vocabSize);
        requirePositive("n_positions", maxSeqLen);
        requirePositive("n_layer", nLayer);
        requirePositive("n_head", nHead);
        requirePositive("n_embd", nEmbd);
        if (nEmbd % nHead != 0) {
            throw new IllegalArgumentException(
                    "n_embd must be divisible by n_head, found n_embd=" + nEmbd + " n_head=" + nHead);
        }
        if (!(layerNormEpsilon > 0f)) {
            throw new IllegalArgumentException("layer_norm_epsilon must be > 0, found " + layerNormEpsilon);
        }
        requireProbability("embd_pdrop", embdDropout);
        requireProbability("attn_pdrop", attnDropout);
        requireProbability("resid_pdrop", residDropout);
        if (activation == null || positions == null || norm == null) {
            throw new IllegalArgumentException("activation, positions and norm must be set");
        }
    }

    /** GPT-2 defaults for the given shape: causal, learned positions, pre-LN, GELU, no dropout. */
    public static GptConfig gpt2(int vocabSize, int maxSeqLen, int nLayer, int nHead, int nEmbd) {
        return new GptConfig(vocabSize, maxSeqLen, nLayer, nHead, nEmbd, 1e-5f,
                Activation.GELU, true, Positions.LEARNED, Norm.PRE_LN, 0f, 0f, 0f, false);
    }

    /** GPT-2 small (124M): L=12, NH=12, C=768, V=50257, T=1024. */
    public static GptConfig gpt2Small() {
        return gpt2(50257, 1024, 12, 12, 768);
    }

    public int headSize() {
        return nEmbd / nHead;
    }

    public GptConfig withScoreHead(boolean on) {
        return new GptConfig(vocabSize, maxSeqLen, nLayer, nHead, nEmbd, layerNormEpsilon, activation,
                causal, positions, norm, embdDropout, attnDropout, residDropout, on);
    }

    public GptConfig withDropout(float embd, float attn, float resid) {
        return new GptConfig(vocabSize, maxSeqLen, nLayer, nHead, nEmbd, layerNormEpsilon, activation,
                causal, positions, norm, embd, attn, resid, scoreHead);
    }

    public boolean hasDropout() {
        return embdDropout > 0f || attnDropout > 0f || residDropout > 0f;
    }

    private static void requirePositive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " must be > 0, found " + value);
        }
    }

    private static void requireProbability(String field, float p) {
        if (!(p >= 0f && p < 1f)) {
            throw new IllegalArgumentException(field + " must be in [0, 1), found " + p);
        }
    }
}
