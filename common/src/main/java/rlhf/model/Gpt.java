package rlhf.model;

import java.util.Arrays;
import rlhf.tensor.Attention;
import rlhf.tensor.Dropout;
import rlhf.tensor.Encoder;
import rlhf.tensor.Gelu;
import rlhf.tensor.LayerNorm;
import rlhf.tensor.Matmul;
import rlhf.tensor.Parallel;
import rlhf.tensor.Relu;
import rlhf.tensor.Residual;
import rlhf.tensor.Rng;
import rlhf.tensor.Softmax;

/**
 * A GPT-style Transformer (llm.c style): forward and backward over one flat parameter buffer
 * (layout {@link ParamLayout}) with every activation in a workspace sized once for (maxB, maxT).
 * Nothing is allocated in {@link #forward}, the heads, or {@link #backward} (the (maxB·maxT, V)
 * logits buffer once, at the first {@link #lmHeadForward}, so trunk-only users never pay for it).
 *
 * <p>One training step, whatever the loss:
 * <pre>
 *   gpt.forward(params, tokens, positions, segments, B, T, true, rowSeeds); // trunk -> hidden (B,T,C)
 *   gpt.lmHeadForward(params, targets, 1f, logp, entropy);               // and/or scoreHeadForward
 *   ... loss(logp, entropy, values) -> dlogp, dentropy, dvalues ...
 *   gpt.lmHeadBackward(params, grads, dlogp, dentropy);                  // accumulates dhidden
 *   gpt.backward(params, grads);                                         // dhidden -> grads (+=)
 * </pre>
 * The caller zeroes {@code grads}; every backward accumulates into it. Each head's backward must
 * follow its own forward (the LM head's backward overwrites the logits with their gradient).
 *
 * <p>Block, pre-LN (GPT-2): {@code x += attn(ln_1(x)); x += mlp(ln_2(x))}.
 * Post-LN (original Transformer): {@code x = ln_1(x + attn(x)); x = ln_2(x + mlp(x))}.
 * Both end with {@code ln_f}, so the parameter layout is the same for both placements.
 * Dropout (when training) follows the embedding, the attention probabilities, and each
 * sub-block's output projection, as in GPT-2. Every mask element of row b is a pure function of
 * (rowSeeds[b], site, index within the row), so an example gets the same masks alone, at any row
 * of any micro-batch, and padded to any T: with one seed per example, regrouping examples into
 * micro-batches or partitions does not change the math.
 *
 * <p>forward keeps references to tokens, positions and segments until backward: do not change them
 * in between. Not thread-safe: one instance per thread (its workspace is its state); the
 * kernels themselves split work over {@link Parallel}.
 */
public final class Gpt {

    private final GptConfig cfg;
    private final ParamLayout layout;
    private final int maxB;
    private final int maxT;
    private final int L;
    private final int C;
    private final int NH;
    private final int V;
    /** Fixed (maxSeqLen, C) sinusoid table, or null with learned positions. */
    private final float[] sinusoids;

    // parameter offsets (package-private: the generator's decode step reads them too)
    final int wte;
    final int wpe;
    final int[] ln1w, ln1b, qkvw, qkvb, attprojw, attprojb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb;
    final int lnfw;
    final int lnfb;
    private final int scorew;

    // activations, N = maxB*maxT rows; per-layer tensors live at l*layerStride + o* in acts
    private final int N;
    private final float[] res;      // (L+1, N, C) residual stream: res[l] is block l's input
    private final float[] acts;     // (L, layerStride)
    private final int layerStride;
    private final int oLn1, oLn1Mean, oLn1Rstd, oQkv, oLse, oAtty, oRes2, oLn2, oLn2Mean, oLn2Rstd,
            oFch, oRes3;
    private final float[] hidden;   // (N, C) ln_f output, what the heads read
    private final float[] lnfMean;  // (N)
    private final float[] lnfRstd;  // (N)
    private float[] logits;         // (N, V) LM head logits, allocated at the first lmHeadForward; after lmHeadBackward their gradient
    private final float[] logitLse; // (N) log-sum-exp of logits/temperature
    private float temperature = 1f;
    private int[] targets;
    // gradients of activations
    private final float[] dhidden;  // (N, C) accumulated by the heads
    private final float[] dres;     // (N, C) running residual gradient
    private final float[] dA, dB, dC; // (N, C) scratch; dA also holds forward's projection outputs
    private final float[] d4a, d4b; // (N, 4C) scratch; d4b also holds the MLP activation
    private final float[] dqkv;     // (N, 3C)
    private final float[] attScratch; // (maxB, NH, 2*maxT)

    // the current batch
    private int curB;
    private int curT;
    private int[] tokens;
    private int[] positions;
    private int[] segments;
    private boolean training;
    private final long[] rowSeeds;  // (maxB) dropout seed of each row of the current batch

    /** A model of this shape with a workspace for batches up to maxB rows of maxT tokens. */
    public Gpt(GptConfig cfg, int maxB, int maxT) {
        if (maxB <= 0 || maxT <= 0 || maxT > cfg.maxSeqLen()) {
            throw new IllegalArgumentException("workspace must have 0 < maxB and 0 < maxT <= n_positions="
                    + cfg.maxSeqLen() + ", found maxB=" + maxB + " maxT=" + maxT);
        }
        this.cfg = cfg;
        this.layout = ParamLayout.of(cfg);
        this.maxB = maxB;
        this.maxT = maxT;
        this.L = cfg.nLayer();
        this.C = cfg.nEmbd();
        this.NH = cfg.nHead();
        this.V = cfg.vocabSize();
        this.sinusoids = cfg.positions() == GptConfig.Positions.SINUSOIDAL
                ? Encoder.sinusoids(cfg.maxSeqLen(), C) : null;

        wte = layout.offset("wte.weight");
        wpe = sinusoids == null ? layout.offset("wpe.weight") : 0;
        ln1w = new int[L]; ln1b = new int[L]; qkvw = new int[L]; qkvb = new int[L];
        attprojw = new int[L]; attprojb = new int[L]; ln2w = new int[L]; ln2b = new int[L];
        fcw = new int[L]; fcb = new int[L]; fcprojw = new int[L]; fcprojb = new int[L];
        for (int l = 0; l < L; l++) {
            String p = "h." + l + ".";
            ln1w[l] = layout.offset(p + "ln_1.weight");
            ln1b[l] = layout.offset(p + "ln_1.bias");
            qkvw[l] = layout.offset(p + "attn.c_attn.weight");
            qkvb[l] = layout.offset(p + "attn.c_attn.bias");
            attprojw[l] = layout.offset(p + "attn.c_proj.weight");
            attprojb[l] = layout.offset(p + "attn.c_proj.bias");
            ln2w[l] = layout.offset(p + "ln_2.weight");
            ln2b[l] = layout.offset(p + "ln_2.bias");
            fcw[l] = layout.offset(p + "mlp.c_fc.weight");
            fcb[l] = layout.offset(p + "mlp.c_fc.bias");
            fcprojw[l] = layout.offset(p + "mlp.c_proj.weight");
            fcprojb[l] = layout.offset(p + "mlp.c_proj.bias");
        }
        lnfw = layout.offset("ln_f.weight");
        lnfb = layout.offset("ln_f.bias");
        scorew = cfg.scoreHead() ? layout.offset("score.weight") : -1;

        N = maxB * maxT;
        long nc = (long) N * C;
        int o = 0;
        oLn1 = o; o += nc;
        oLn1Mean = o; o += N;
        oLn1Rstd = o; o += N;
        oQkv = o; o += 3 * nc;
        oLse = o; o += N * NH;
        oAtty = o; o += nc;
        oRes2 = o; o += nc;
        oLn2 = o; o += nc;
        oLn2Mean = o; o += N;
        oLn2Rstd = o; o += N;
        oFch = o; o += 4 * nc;
        oRes3 = oLn2; // post-LN keeps its pre-ln_2 sum where pre-LN keeps ln_2 output: never both
        layerStride = o;
        if ((long) layerStride * L > Integer.MAX_VALUE - 8 || nc * (L + 1) > Integer.MAX_VALUE - 8
                || (long) N * V > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("workspace for maxB=" + maxB + " maxT=" + maxT
                    + " does not fit in a Java array; use a smaller micro-batch");
        }
        res = new float[(L + 1) * (int) nc];
        acts = new float[L * layerStride];
        hidden = new float[(int) nc];
        lnfMean = new float[N];
        lnfRstd = new float[N];
        logitLse = new float[N];
        dhidden = new float[(int) nc];
        dres = new float[(int) nc];
        dA = new float[(int) nc];
        dB = new float[(int) nc];
        dC = new float[(int) nc];
        d4a = new float[4 * (int) nc];
        d4b = new float[4 * (int) nc];
        dqkv = new float[3 * (int) nc];
        attScratch = new float[maxB * NH * 2 * maxT];
        rowSeeds = new long[maxB];
    }

    public GptConfig config() {
        return cfg;
    }

    public ParamLayout layout() {
        return layout;
    }

    public int maxB() {
        return maxB;
    }

    public int maxT() {
        return maxT;
    }

    /** Batch rows of the last forward. */
    public int batch() {
        return curB;
    }

    /** Sequence length of the last forward. */
    public int time() {
        return curT;
    }

    // ---------------------------------------------------------------------------------------
    // initialisation

    /**
     * GPT-2 initialisation into params (layout of this config), a pure function of seed:
     * matrices and embeddings normal(0, 0.02), the residual output projections (attn.c_proj,
     * mlp.c_proj) normal(0, 0.02/sqrt(2L)), biases 0, LayerNorm weights 1.
     */
    public static void init(GptConfig cfg, float[] params, long seed) {
        ParamLayout layout = ParamLayout.of(cfg);
        if (params.length != layout.size()) {
            throw new IllegalArgumentException("params has " + params.length + " floats, layout needs " + layout.size());
        }
        float residStd = (float) (0.02 / Math.sqrt(2.0 * cfg.nLayer()));
        for (ParamLayout.View v : layout.views()) {
            String n = v.name();
            int off = v.offset();
            if (n.contains("ln_") && n.endsWith(".weight")) {
                Arrays.fill(params, off, off + v.size(), 1f);
            } else if (n.endsWith(".bias")) {
                Arrays.fill(params, off, off + v.size(), 0f);
            } else {
                float std = n.endsWith("c_proj.weight") ? residStd : 0.02f;
                for (int i = 0; i < v.size(); i++) {
                    params[off + i] = (float) (std * Rng.normal(seed, 1, off + i));
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // trunk

    /**
     * tokens (B,T) -> hidden (B,T,C), the output of ln_f, kept in the workspace for the heads.
     *
     * @param positions (B,T) position of each token (restarting per packed example), or null for 0..T-1
     * @param segments  (B,T) segment id of each token; attention never crosses segments; null = one per row.
     *                  With bidirectional attention give padding its own segment id.
     * @param training  apply dropout (with the config's rates)
     * @param rowSeeds  (B) the dropout seed of each row (copied; unread when not training): row b's
     *                  masks depend on rowSeeds[b] only. Give each example its own seed (e.g. the
     *                  trainer's per-example seeds) to make results independent of the grouping.
     */
    public void forward(float[] params, int[] tokens, int[] positions, int[] segments, int B, int T,
                        boolean training, long[] rowSeeds) {
        checkBatch(params, B, T);
        if (training) {
            if (rowSeeds.length < B) {
                throw new IllegalArgumentException("rowSeeds has " + rowSeeds.length + " seeds, expected one per row (B="
                        + B + ")");
            }
            System.arraycopy(rowSeeds, 0, this.rowSeeds, 0, B);
        }
        run(params, tokens, positions, segments, B, T, training);
    }

    /**
     * {@link #forward(float[], int[], int[], int[], int, int, boolean, long[])} with row b's seed
     * derived from (dropoutSeed, b): masks then depend on the row's place in the batch, so prefer
     * per-example seeds when training on regrouped data.
     */
    public void forward(float[] params, int[] tokens, int[] positions, int[] segments, int B, int T,
                        boolean training, long dropoutSeed) {
        checkBatch(params, B, T);
        for (int b = 0; b < B; b++) {
            rowSeeds[b] = Rng.bits(dropoutSeed, ROW_SEED_STREAM, b);
        }
        run(params, tokens, positions, segments, B, T, training);
    }

    private void checkBatch(float[] params, int B, int T) {
        if (B <= 0 || T <= 0 || B > maxB || T > maxT) {
            throw new IllegalArgumentException("batch (B=" + B + ", T=" + T + ") exceeds the workspace (maxB="
                    + maxB + ", maxT=" + maxT + ")");
        }
        if (params.length != layout.size()) {
            throw new IllegalArgumentException("params has " + params.length + " floats, layout needs " + layout.size());
        }
    }

    /** The trunk forward for a checked batch whose row seeds are in place. */
    private void run(float[] params, int[] tokens, int[] positions, int[] segments, int B, int T, boolean training) {
        curB = B;
        curT = T;
        this.tokens = tokens;
        this.positions = positions;
        this.segments = segments;
        this.training = training;
        int BT = B * T;
        int nc = BT * C;
        float[] pe = sinusoids == null ? params : sinusoids;
        Encoder.forward(res, 0, tokens, positions, params, wte, pe, sinusoids == null ? wpe : 0, B, T, C, V,
                cfg.maxSeqLen());
        int TC = T * C; // one row of (B,T,C): dropout masks are drawn per row
        Dropout.forwardRows(res, 0, res, 0, B, TC, pEmbd(), rowSeeds, site(-1, 0));
        boolean post = cfg.norm() == GptConfig.Norm.POST_LN;
        float eps = cfg.layerNormEpsilon();
        for (int l = 0; l < L; l++) {
            int a = l * layerStride;
            int x = l * N * C;          // block input in res
            int y = (l + 1) * N * C;    // block output in res
            // attention sub-block; its input is ln_1(x) (pre-LN) or x (post-LN)
            float[] attIn = post ? res : acts;
            int attInOff = post ? x : a + oLn1;
            if (!post) {
                LayerNorm.forward(acts, a + oLn1, acts, a + oLn1Mean, acts, a + oLn1Rstd, res, x,
                        params, ln1w[l], params, ln1b[l], BT, C, eps);
            }
            Matmul.forward(acts, a + oQkv, attIn, attInOff, params, qkvw[l], params, qkvb[l], BT, C, 3 * C);
            Attention.forward(acts, a + oAtty, acts, a + oLse, acts, a + oQkv, segments, B, T, C, NH, cfg.causal(),
                    pAttn(), rowSeeds, site(l, 1), attScratch, 0);
            Matmul.forward(dA, 0, acts, a + oAtty, params, attprojw[l], params, attprojb[l], BT, C, C);
            Dropout.forwardRows(dA, 0, dA, 0, B, TC, pResid(), rowSeeds, site(l, 2));
            Residual.forward(acts, a + oRes2, res, x, dA, 0, nc);
            // MLP sub-block; its input is ln_2(res2) (pre-LN) or ln_1(res2) (post-LN), both at oLn2/oLn1
            int mlpIn;
            if (post) {
                LayerNorm.forward(acts, a + oLn1, acts, a + oLn1Mean, acts, a + oLn1Rstd, acts, a + oRes2,
                        params, ln1w[l], params, ln1b[l], BT, C, eps);
                mlpIn = a + oLn1;
            } else {
                LayerNorm.forward(acts, a + oLn2, acts, a + oLn2Mean, acts, a + oLn2Rstd, acts, a + oRes2,
                        params, ln2w[l], params, ln2b[l], BT, C, eps);
                mlpIn = a + oLn2;
            }
            Matmul.forward(acts, a + oFch, acts, mlpIn, params, fcw[l], params, fcb[l], BT, C, 4 * C);
            activate(acts, a + oFch, 4 * nc); // -> d4b, recomputed in backward rather than stored
            Matmul.forward(dA, 0, d4b, 0, params, fcprojw[l], params, fcprojb[l], BT, 4 * C, C);
            Dropout.forwardRows(dA, 0, dA, 0, B, TC, pResid(), rowSeeds, site(l, 3));
            if (post) {
                Residual.forward(acts, a + oRes3, acts, mlpIn, dA, 0, nc);
                LayerNorm.forward(res, y, acts, a + oLn2Mean, acts, a + oLn2Rstd, acts, a + oRes3,
                        params, ln2w[l], params, ln2b[l], BT, C, eps);
            } else {
                Residual.forward(res, y, acts, a + oRes2, dA, 0, nc);
            }
        }
        LayerNorm.forward(hidden, 0, lnfMean, 0, lnfRstd, 0, res, L * N * C, params, lnfw, params, lnfb, BT, C, eps);
        zero(dhidden, nc);
    }

    /**
     * Backward from the gradient the heads accumulated on hidden down to the embeddings:
     * grads (layout of params) +=. Uses the activations of the last forward.
     */
    public void backward(float[] params, float[] grads) {
        int B = curB;
        int T = curT;
        int BT = B * T;
        int nc = BT * C;
        int TC = T * C;
        boolean post = cfg.norm() == GptConfig.Norm.POST_LN;
        zero(dres, nc);
        LayerNorm.backward(dres, 0, grads, lnfw, grads, lnfb, dhidden, 0, res, L * N * C, params, lnfw,
                lnfMean, 0, lnfRstd, 0, BT, C);
        for (int l = L - 1; l >= 0; l--) {
            int a = l * layerStride;
            int x = l * N * C;
            // dres holds d(block output); go back through the MLP sub-block to d(res2), then attention to d(x)
            int mlpIn = post ? a + oLn1 : a + oLn2;
            float[] dsum; // gradient of (mlpIn + fcproj)
            if (post) {
                zero(dA, nc);
                LayerNorm.backward(dA, 0, grads, ln2w[l], grads, ln2b[l], dres, 0, acts, a + oRes3, params, ln2w[l],
                        acts, a + oLn2Mean, acts, a + oLn2Rstd, BT, C);
                dsum = dA;
            } else {
                dsum = dres;
            }
            // fcproj branch
            zero(dC, nc);
            Dropout.backwardRows(dC, 0, dsum, 0, B, TC, pResid(), rowSeeds, site(l, 3));
            activate(acts, a + oFch, 4 * nc);
            zero(d4a, 4 * nc);
            Matmul.backward(d4a, 0, grads, fcprojw[l], grads, fcprojb[l], dC, 0, d4b, 0, params, fcprojw[l],
                    BT, 4 * C, C);
            if (cfg.activation() == GptConfig.Activation.GELU) {
                Gelu.backwardSet(d4b, 0, acts, a + oFch, d4a, 0, 4 * nc); // overwrites: no zeroing pass
            } else {
                zero(d4b, 4 * nc);
                Relu.backward(d4b, 0, acts, a + oFch, d4a, 0, 4 * nc);
            }
            // d(mlpIn) = through c_fc, plus the residual part in post-LN (sum = mlpIn + fcproj)
            if (post) {
                System.arraycopy(dsum, 0, dB, 0, nc);
            } else {
                zero(dB, nc);
            }
            Matmul.backward(dB, 0, grads, fcw[l], grads, fcb[l], d4b, 0, acts, mlpIn, params, fcw[l], BT, C, 4 * C);
            // d(res2): pre-LN: residual (dres) + ln_2 backward; post-LN: ln_1 backward of d(mlpIn)
            float[] dres2;
            if (post) {
                zero(dC, nc);
                LayerNorm.backward(dC, 0, grads, ln1w[l], grads, ln1b[l], dB, 0, acts, a + oRes2, params, ln1w[l],
                        acts, a + oLn1Mean, acts, a + oLn1Rstd, BT, C);
                dres2 = dC;
            } else {
                LayerNorm.backward(dres, 0, grads, ln2w[l], grads, ln2b[l], dB, 0, acts, a + oRes2, params, ln2w[l],
                        acts, a + oLn2Mean, acts, a + oLn2Rstd, BT, C);
                dres2 = dres;
            }
            // attention branch: dattproj -> datty -> dqkv -> d(attIn)
            zero(dA, nc);
            Dropout.backwardRows(dA, 0, dres2, 0, B, TC, pResid(), rowSeeds, site(l, 2));
            zero(dB, nc);
            Matmul.backward(dB, 0, grads, attprojw[l], grads, attprojb[l], dA, 0, acts, a + oAtty, params, attprojw[l],
                    BT, C, C);
            zero(dqkv, 3 * nc);
            Attention.backward(dqkv, 0, dB, 0, acts, a + oQkv, acts, a + oLse, segments, B, T, C, NH, cfg.causal(),
                    pAttn(), rowSeeds, site(l, 1), attScratch, 0);
            if (post) {
                // d(x) = dres2 (residual) + through c_attn
                if (dres2 != dres) {
                    System.arraycopy(dres2, 0, dres, 0, nc);
                }
                Matmul.backward(dres, 0, grads, qkvw[l], grads, qkvb[l], dqkv, 0, res, x, params, qkvw[l], BT, C, 3 * C);
            } else {
                zero(dA, nc);
                Matmul.backward(dA, 0, grads, qkvw[l], grads, qkvb[l], dqkv, 0, acts, a + oLn1, params, qkvw[l],
                        BT, C, 3 * C);
                LayerNorm.backward(dres, 0, grads, ln1w[l], grads, ln1b[l], dA, 0, res, x, params, ln1w[l],
                        acts, a + oLn1Mean, acts, a + oLn1Rstd, BT, C);
            }
        }
        zero(dA, nc);
        Dropout.backwardRows(dA, 0, dres, 0, B, TC, pEmbd(), rowSeeds, site(-1, 0));
        Encoder.backward(grads, wte, sinusoids == null ? grads : null, wpe, dA, 0, tokens, positions, B, T, C);
    }

    // ---------------------------------------------------------------------------------------
    // LM head (tied to wte)

    /**
     * logits (B,T,V) = hidden · wte^T; z = logits / temperature; for each (b,t) with
     * targets[b,t] >= 0: logp = log softmax(z)[target] and entropy = -sum softmax(z) · log softmax(z).
     * Positions with target -1 get logp = entropy = 0 and receive no gradient.
     *
     * @param targets (B,T) next-token ids, -1 = ignore
     * @param logp    (B,T) out
     * @param entropy (B,T) out, or null
     */
    public void lmHeadForward(float[] params, int[] targets, float temperature, float[] logp, float[] entropy) {
        if (!(temperature > 0f)) {
            throw new IllegalArgumentException("temperature must be > 0, found " + temperature);
        }
        int BT = curB * curT;
        this.temperature = temperature;
        this.targets = targets;
        for (int bt = 0; bt < BT; bt++) {
            if (targets[bt] >= V) {
                throw new IllegalArgumentException("target id " + targets[bt] + " at row " + bt / curT + ", position "
                        + bt % curT + " is outside the vocabulary [0, " + V + ")");
            }
        }
        if (logits == null) {
            logits = new float[N * V]; // once: a trunk-only user (generation prefill, critic) never pays for it
        }
        Matmul.forward(logits, 0, hidden, 0, params, wte, null, 0, BT, C, V);
        float[] logits = this.logits;
        float inv = 1f / temperature;
        Parallel.forRange(BT, 4, (from, to) -> {
            for (int bt = from; bt < to; bt++) {
                int tgt = targets[bt];
                if (tgt < 0) {
                    logp[bt] = 0f;
                    if (entropy != null) {
                        entropy[bt] = 0f;
                    }
                    continue;
                }
                int row = bt * V;
                double lse = Softmax.logSumExp(logits, row, V, inv);
                logitLse[bt] = (float) lse;
                logp[bt] = (float) (logits[row + tgt] * inv - lse);
                if (entropy != null) {
                    entropy[bt] = (float) entropyOfRow(row, inv, lse);
                }
            }
        });
    }

    /** -sum p log p of softmax(logits[row..row+V) * inv) given its log-sum-exp. */
    private double entropyOfRow(int row, float inv, double lse) {
        double h = 0;
        for (int i = 0; i < V; i++) {
            double lp = logits[row + i] * inv - lse;
            h -= Math.exp(lp) * lp;
        }
        return h;
    }

    /**
     * softmax(logits / temperature) of row bt = b·T+t of the last {@link #lmHeadForward} -> out (V)
     * at outOff (any row, with or without a target).
     */
    public void probabilities(int bt, float[] out, int outOff) {
        float inv = 1f / temperature;
        double lse = Softmax.logSumExp(logits, bt * V, V, inv);
        for (int i = 0; i < V; i++) {
            out[outOff + i] = (float) Math.exp(logits[bt * V + i] * inv - lse);
        }
    }

    /**
     * The raw logits (B,T,V) of the last {@link #lmHeadForward} (row b·T+t at offset (b·T+t)·V),
     * valid until {@link #lmHeadBackward} overwrites them with their gradient.
     */
    public float[] logits() {
        return logits;
    }

    /**
     * Backward of the LM head for arbitrary upstream gradients: dlogp (B,T) and dentropy (B,T)
     * (or null) -> grads[wte] += and the hidden-state gradient +=. Overwrites the logits.
     * d z_j = dlogp (1[j=target] - p_j) - dentropy p_j (log p_j + H); d logits = d z / temperature.
     */
    public void lmHeadBackward(float[] params, float[] grads, float[] dlogp, float[] dentropy) {
        int BT = curB * curT;
        float inv = 1f / temperature;
        Parallel.forRange(BT, 4, (from, to) -> {
            for (int bt = from; bt < to; bt++) {
                int row = bt * V;
                int tgt = targets[bt];
                float gl = tgt < 0 ? 0f : dlogp[bt];
                float ge = tgt < 0 || dentropy == null ? 0f : dentropy[bt];
                if (gl == 0f && ge == 0f) {
                    Arrays.fill(logits, row, row + V, 0f);
                    continue;
                }
                float lse = logitLse[bt];
                float h = ge != 0f ? (float) entropyOfRow(row, inv, lse) : 0f;
                Softmax.lmHeadGradient(logits, row, V, inv, lse, gl, ge, h);
                logits[row + tgt] += gl * inv;
            }
        });
        Matmul.backward(dhidden, 0, grads, wte, null, 0, logits, 0, hidden, 0, params, wte, BT, C, V);
    }

    // ---------------------------------------------------------------------------------------
    // score head (GPT2ForSequenceClassification with one label: score.weight (1,C), no bias)

    /** hidden (B,T,C) · score.weight (C) -> values (B,T): per-token values (critic) or rewards. */
    public void scoreHeadForward(float[] params, float[] values) {
        requireScoreHead();
        Matmul.forward(values, 0, hidden, 0, params, scorew, null, 0, curB * curT, C, 1);
    }

    /** dvalues (B,T) -> grads[score.weight] +=, hidden-state gradient +=. */
    public void scoreHeadBackward(float[] params, float[] grads, float[] dvalues) {
        requireScoreHead();
        Matmul.backward(dhidden, 0, grads, scorew, null, 0, dvalues, 0, hidden, 0, params, scorew, curB * curT, C, 1);
    }

    /**
     * The reward-model convention: a sequence's score is the value at its last real token,
     * index {@code length - 1} (padding, which is the EOS id, comes after). values (B,T) -> out (B).
     */
    public static void gatherLast(float[] values, int[] lengths, int B, int T, float[] out) {
        for (int b = 0; b < B; b++) {
            out[b] = values[lastTokenIndex(lengths[b], b, T) + b * T];
        }
    }

    /** Backward of {@link #gatherLast}: dout (B) -> dvalues (B,T) += at each row's last real token. */
    public static void scatterLast(float[] dout, int[] lengths, int B, int T, float[] dvalues) {
        for (int b = 0; b < B; b++) {
            dvalues[lastTokenIndex(lengths[b], b, T) + b * T] += dout[b];
        }
    }

    /** length - 1, checked to lie in the row. */
    public static int lastTokenIndex(int length, int row, int T) {
        if (length < 1 || length > T) {
            throw new IllegalArgumentException("row " + row + " has length " + length + ", expected 1.." + T);
        }
        return length - 1;
    }

    /** The hidden states (B,T,C) of the last forward (ln_f output), row b·T+t at (b·T+t)·C. */
    public float[] hidden() {
        return hidden;
    }

    // ---------------------------------------------------------------------------------------
    // package-private access for the KV-cache generator

    float[] qkvActs() {
        return acts;
    }

    /** Offset of layer l's qkv (B,T,3C) in {@link #qkvActs()}. */
    int qkvOffset(int l) {
        return l * layerStride + oQkv;
    }

    float[] sinusoidTable() {
        return sinusoids;
    }

    /** The MLP nonlinearity of fch (n) into d4b (n). */
    private void activate(float[] fch, int off, int n) {
        if (cfg.activation() == GptConfig.Activation.GELU) {
            Gelu.forward(d4b, 0, fch, off, n);
        } else {
            Relu.forward(d4b, 0, fch, off, n);
        }
    }

    /** a[0..n) = 0, split over the kernel threads (the backward zeroes ~16·B·T·C floats per layer). */
    private static void zero(float[] a, int n) {
        Parallel.forRange(n, 1 << 16, (from, to) -> Arrays.fill(a, from, to, 0f));
    }

    private void requireScoreHead() {
        if (scorew < 0) {
            throw new IllegalStateException("this model has no score head (config score_head=false)");
        }
    }

    private float pEmbd() {
        return training ? cfg.embdDropout() : 0f;
    }

    private float pAttn() {
        return training ? cfg.attnDropout() : 0f;
    }

    private float pResid() {
        return training ? cfg.residDropout() : 0f;
    }

    /** Rng stream deriving row seeds from a single dropout seed (distinct from every site, which are >= 0). */
    private static final long ROW_SEED_STREAM = -1;

    /** Dropout stream of a site: layer -1 is the embedding; k = 1 attention, 2 attn proj, 3 mlp proj. */
    private static long site(int layer, int k) {
        return 4L * (layer + 1) + k;
    }
}
