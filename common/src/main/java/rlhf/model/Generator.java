package rlhf.model;

import rlhf.tensor.Attention;
import rlhf.tensor.Encoder;
import rlhf.tensor.Gelu;
import rlhf.tensor.LayerNorm;
import rlhf.tensor.Matmul;
import rlhf.tensor.Relu;
import rlhf.tensor.Residual;
import rlhf.tensor.Rng;
import rlhf.tensor.Softmax;

/**
 * Autoregressive sampling with a KV cache for a batch of prompts of different lengths.
 *
 * <p>Prompts are right-padded: row b holds its prompt at positions 0..len_b-1 (padding after it,
 * any valid id, is never attended to or cached), so every row keeps its own position counter
 * and no row's positions are shifted. {@link #prefill} runs the full model over the prompts
 * ({@link Gpt#forward}) and copies each row's keys and values into the cache; {@link #decode}
 * then feeds one token per active row, with the same kernels on (n, C) rows and
 * {@link Attention#forwardCached} over the row's cache. Finished rows drop out of the batch.
 *
 * <p>Sampling is reproducible: token i of a row draws uniform(seed, rowKey, i), so a row's
 * completion depends on its prompt, the weights, the seed and its key — not on the other rows.
 * Nothing is allocated per generated token; top-k/top-p sort only the few most probable
 * candidates, in a preallocated buffer. Requires a causal model. Not thread-safe.
 */
public final class Generator {

    private final GptConfig cfg;
    private final Gpt prefillModel;
    private final KvCache cache;
    private final Generation out;
    private final int maxB;
    private final int C;
    private final int V;
    private final int L;
    private final float[] sinusoids;
    // decode buffers for up to maxB rows of one token
    private final float[] x, ln, qkv, atty, proj, sum, fch, fchAct, hiddenRows;
    private final float[] logits;   // (maxB, V) next-token logits of the active rows
    private final float[] attScratch;
    private final float[] probs;    // (V)
    private final long[] keys;      // (V) sort keys for top-k / top-p
    private final int[] stepTokens, stepPositions, active, next, feed;

    /**
     * @param maxB           rows per call
     * @param maxPromptLen   longest prompt (the prefill workspace)
     * @param maxNewTokens   longest completion; the cache holds min(n_positions, maxPromptLen + maxNewTokens)
     */
    public Generator(GptConfig cfg, int maxB, int maxPromptLen, int maxNewTokens) {
        if (!cfg.causal()) {
            throw new IllegalArgumentException("generation needs a causal model; this config is bidirectional");
        }
        this.cfg = cfg;
        this.maxB = maxB;
        this.C = cfg.nEmbd();
        this.V = cfg.vocabSize();
        this.L = cfg.nLayer();
        this.prefillModel = new Gpt(cfg, maxB, maxPromptLen);
        this.cache = new KvCache(cfg, maxB, Math.min(cfg.maxSeqLen(), maxPromptLen + maxNewTokens));
        this.out = new Generation(maxB, maxNewTokens);
        this.sinusoids = cfg.positions() == GptConfig.Positions.SINUSOIDAL ? Encoder.sinusoids(cfg.maxSeqLen(), C) : null;
        x = new float[maxB * C];
        ln = new float[maxB * C];
        qkv = new float[maxB * 3 * C];
        atty = new float[maxB * C];
        proj = new float[maxB * C];
        sum = new float[maxB * C];
        fch = new float[maxB * 4 * C];
        fchAct = new float[maxB * 4 * C];
        hiddenRows = new float[maxB * C];
        logits = new float[maxB * V];
        attScratch = new float[cache.maxT()];
        probs = new float[V];
        keys = new long[V];
        stepTokens = new int[maxB];
        stepPositions = new int[maxB];
        active = new int[maxB];
        next = new int[maxB];
        feed = new int[maxB];
    }

    public KvCache cache() {
        return cache;
    }

    /**
     * Next-token logits (maxB, V): after {@link #prefill} row b is prompt b's; after
     * {@link #decode} row i is the i-th fed row's.
     */
    public float[] logits() {
        return logits;
    }

    /**
     * Runs the prompts through the model and fills the cache. prompts (B, promptT) right-padded,
     * row b's prompt = its first promptLens[b] ids. Leaves row b's next-token logits in logits() row b.
     */
    public void prefill(float[] params, int[] prompts, int promptT, int[] promptLens, int B) {
        if (B > maxB) {
            throw new IllegalArgumentException("batch of " + B + " prompts exceeds the generator's maxB=" + maxB);
        }
        for (int b = 0; b < B; b++) {
            if (promptLens[b] < 1 || promptLens[b] > promptT || promptLens[b] > cache.maxT()) {
                throw new IllegalArgumentException("prompt " + b + " has length " + promptLens[b]
                        + ", expected 1.." + Math.min(promptT, cache.maxT()));
            }
        }
        cache.clear();
        prefillModel.forward(params, prompts, null, null, B, promptT, false, 0L);
        float[] acts = prefillModel.qkvActs();
        for (int l = 0; l < L; l++) {
            int q = prefillModel.qkvOffset(l);
            for (int b = 0; b < B; b++) {
                for (int t = 0; t < promptLens[b]; t++) {
                    int src = q + (b * promptT + t) * 3 * C;
                    int dst = cache.offset(l, b, t);
                    System.arraycopy(acts, src + C, cache.keys(), dst, C);
                    System.arraycopy(acts, src + 2 * C, cache.values(), dst, C);
                }
            }
        }
        float[] hidden = prefillModel.hidden();
        for (int b = 0; b < B; b++) {
            cache.setLength(b, promptLens[b]);
            Matmul.forward(logits, b * V, hidden, (b * promptT + promptLens[b] - 1) * C, params,
                    prefillModel.wte, null, 0, 1, C, V);
        }
    }

    /**
     * Feeds tokens[i] to cache row rows[i] (i < n) at that row's next position, appends its keys
     * and values, and leaves the next-token logits in logits() row i.
     */
    public void decode(float[] params, int[] tokens, int[] rows, int n) {
        for (int i = 0; i < n; i++) {
            int b = rows[i];
            if (cache.length(b) >= cache.maxT()) {
                throw new IllegalStateException("KV cache row " + b + " is full (" + cache.maxT() + " positions)");
            }
            stepTokens[i] = tokens[i];
            stepPositions[i] = cache.length(b);
        }
        Gpt g = prefillModel; // parameter offsets
        float[] pe = sinusoids == null ? params : sinusoids;
        Encoder.forward(x, 0, stepTokens, stepPositions, params, g.wte, pe, sinusoids == null ? g.wpe : 0, n, 1, C, V,
                cfg.maxSeqLen());
        boolean post = cfg.norm() == GptConfig.Norm.POST_LN;
        float eps = cfg.layerNormEpsilon();
        int nc = n * C;
        for (int l = 0; l < L; l++) {
            float[] attIn = x;
            if (!post) {
                LayerNorm.forward(ln, 0, null, 0, null, 0, x, 0, params, g.ln1w[l], params, g.ln1b[l], n, C, eps);
                attIn = ln;
            }
            Matmul.forward(qkv, 0, attIn, 0, params, g.qkvw[l], params, g.qkvb[l], n, C, 3 * C);
            for (int i = 0; i < n; i++) {
                int b = rows[i];
                int pos = stepPositions[i];
                int dst = cache.offset(l, b, pos);
                System.arraycopy(qkv, i * 3 * C + C, cache.keys(), dst, C);
                System.arraycopy(qkv, i * 3 * C + 2 * C, cache.values(), dst, C);
                int base = cache.offset(l, b, 0);
                Attention.forwardCached(atty, i * C, qkv, i * 3 * C, cache.keys(), base, cache.values(), base,
                        pos + 1, C, cfg.nHead(), attScratch, 0);
            }
            Matmul.forward(proj, 0, atty, 0, params, g.attprojw[l], params, g.attprojb[l], n, C, C);
            Residual.forward(sum, 0, x, 0, proj, 0, nc);
            float[] mlpIn;
            if (post) {
                LayerNorm.forward(x, 0, null, 0, null, 0, sum, 0, params, g.ln1w[l], params, g.ln1b[l], n, C, eps);
                mlpIn = x;
            } else {
                System.arraycopy(sum, 0, x, 0, nc);
                LayerNorm.forward(ln, 0, null, 0, null, 0, x, 0, params, g.ln2w[l], params, g.ln2b[l], n, C, eps);
                mlpIn = ln;
            }
            Matmul.forward(fch, 0, mlpIn, 0, params, g.fcw[l], params, g.fcb[l], n, C, 4 * C);
            if (cfg.activation() == GptConfig.Activation.GELU) {
                Gelu.forward(fchAct, 0, fch, 0, 4 * nc);
            } else {
                Relu.forward(fchAct, 0, fch, 0, 4 * nc);
            }
            Matmul.forward(proj, 0, fchAct, 0, params, g.fcprojw[l], params, g.fcprojb[l], n, 4 * C, C);
            if (post) {
                Residual.forward(sum, 0, x, 0, proj, 0, nc);
                LayerNorm.forward(x, 0, null, 0, null, 0, sum, 0, params, g.ln2w[l], params, g.ln2b[l], n, C, eps);
            } else {
                Residual.forward(x, 0, x, 0, proj, 0, nc);
            }
        }
        LayerNorm.forward(hiddenRows, 0, null, 0, null, 0, x, 0, params, g.lnfw, params, g.lnfb, n, C, eps);
        Matmul.forward(logits, 0, hiddenRows, 0, params, g.wte, null, 0, n, C, V);
        for (int i = 0; i < n; i++) {
            cache.setLength(rows[i], stepPositions[i] + 1);
        }
    }

    /**
     * Samples completions for B right-padded prompts (B, promptT).
     *
     * @param rowKeys per-row sampling key (e.g. the global example index), or null for 0..B-1
     * @return the reused result, valid until the next call
     */
    public Generation generate(float[] params, int[] prompts, int promptT, int[] promptLens, int B,
                               GenerationConfig gc, long[] rowKeys) {
        if (gc.maxNewTokens() > out.stride()) {
            throw new IllegalArgumentException("max_new_tokens=" + gc.maxNewTokens()
                    + " exceeds the generator's capacity of " + out.stride());
        }
        prefill(params, prompts, promptT, promptLens, B);
        out.rows = B;
        int stride = out.stride();
        int n = B;
        for (int b = 0; b < B; b++) {
            active[b] = b;
            out.lengths[b] = 0;
            out.endedWithEos[b] = false;
        }
        // logits row i belongs to active[i]
        for (int step = 0; n > 0; step++) {
            int m = 0;
            for (int i = 0; i < n; i++) {
                int b = active[i];
                long key = rowKeys == null ? b : rowKeys[b];
                int tok = sample(logits, i * V, gc, Rng.uniformDouble(gc.seed(), key, step));
                out.tokens[b * stride + step] = tok;
                out.logprobs[b * stride + step] = lastLogprob;
                out.lengths[b] = step + 1;
                if (tok == gc.eosId()) {
                    out.endedWithEos[b] = true;
                } else if (step + 1 < gc.maxNewTokens() && cache.length(b) < cache.maxT()) {
                    next[m] = b;
                    feed[m] = tok;
                    m++;
                }
            }
            n = m;
            if (n > 0) {
                System.arraycopy(next, 0, active, 0, n);
                decode(params, feed, active, n);
            }
        }
        return out;
    }

    /** Log-probability of the token the last sample() returned. */
    float lastLogprob;

    /**
     * Draws a token from the logits row at off given uniform u, and sets lastLogprob to its
     * log-probability under softmax(logits / temperature) (temperature 1 when greedy).
     */
    int sample(float[] lg, int off, GenerationConfig gc, double u) {
        float temp = gc.temperature();
        if (temp == 0f) {
            int best = 0;
            for (int i = 1; i < V; i++) {
                if (lg[off + i] > lg[off + best]) {
                    best = i;
                }
            }
            lastLogprob = (float) (lg[off + best] - Softmax.logSumExp(lg, off, V, 1f));
            return best;
        }
        float inv = 1f / temp;
        double lse = Softmax.logSumExp(lg, off, V, inv);
        for (int i = 0; i < V; i++) {
            probs[i] = (float) Math.exp(lg[off + i] * inv - lse);
        }
        int tok;
        if (gc.topK() > 0 || gc.topP() < 1f) {
            // The kept set is a prefix of the tokens sorted by probability: the top k, cut at the
            // smallest prefix whose mass reaches top_p. Sort only the tokens with p >= tau, for a
            // tau low enough that they contain that prefix (>= k of them, or mass >= top_p).
            int k = gc.topK() > 0 ? Math.min(gc.topK(), V) : V;
            float tau = 1f / V;
            int m;
            while (true) {
                m = 0;
                double candMass = 0;
                for (int i = 0; i < V; i++) {
                    if (probs[i] >= tau) {
                        keys[m++] = ((long) Float.floatToIntBits(probs[i]) << 32) | i;
                        candMass += probs[i];
                    }
                }
                if (m >= k || candMass >= gc.topP() || tau == 0f) {
                    break;
                }
                tau = tau < 1e-30f ? 0f : tau / 16f;
            }
            java.util.Arrays.sort(keys, 0, m); // ascending (prob, id): most probable last
            double mass = 0;
            int kept = 0;
            while (kept < Math.min(k, m) && (kept == 0 || mass < gc.topP())) {
                mass += probs[(int) keys[m - 1 - kept]];
                kept++;
            }
            double target = u * mass;
            tok = (int) keys[m - kept]; // fallback: least probable kept token (rounding)
            double acc = 0;
            for (int j = 0; j < kept; j++) {
                int id = (int) keys[m - 1 - j];
                acc += probs[id];
                if (target < acc) {
                    tok = id;
                    break;
                }
            }
        } else {
            double total = 0;
            for (int i = 0; i < V; i++) {
                total += probs[i];
            }
            double target = u * total;
            double acc = 0;
            tok = V - 1;
            for (int i = 0; i < V; i++) {
                acc += probs[i];
                if (target < acc) {
                    tok = i;
                    break;
                }
            }
        }
        lastLogprob = (float) (lg[off + tok] * inv - lse);
        return tok;
    }
}
