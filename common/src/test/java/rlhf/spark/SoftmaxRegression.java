package rlhf.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import rlhf.optim.ElementwiseOptimizer;
import rlhf.optim.GradClip;

/**
 * Stand-in model for trainer tests: per-token softmax regression over sequences, logits (K) =
 * W (K,D) · dropout(x_t) (D) + b (K), cross-entropy per token. Params: W then b in one float[].
 * Input dropout is drawn from the example's seed, so the tests see whether seeds are per example.
 * Also: a momentum SGD optimizer, a data generator and a plain single-process training loop.
 */
final class SoftmaxRegression implements PartitionLoss<SoftmaxRegression.Seq, SoftmaxRegression.Work> {

    private static final long serialVersionUID = 1L;

    static final int D = 8;
    static final int K = 5;
    static final int PARAMS = K * D + K;
    static final float DROPOUT = 0.2f;

    /** A sequence of T tokens: features x (T,D) and labels y (T). */
    record Seq(float[] x, int[] y) implements Serializable {
        int length() {
            return y.length;
        }
    }

    /** Per-JVM workspace. */
    static final class Work {
        final float[] xd = new float[D];
        final float[] probs = new float[K];
    }

    @Override
    public String stateKey() {
        return "test-softmax";
    }

    @Override
    public Work createState(int paramCount) {
        if (paramCount != PARAMS) {
            throw new IllegalArgumentException("expected " + PARAMS + " params, found " + paramCount);
        }
        return new Work();
    }

    @Override
    public String[] statNames() {
        return new String[] {"correct"};
    }

    @Override
    public void accumulate(Work w, float[] p, List<Seq> examples, long[] seeds, float[] g, LossStats stats) {
        int bOff = K * D;
        for (int e = 0; e < examples.size(); e++) {
            Seq s = examples.get(e);
            SplittableRandom rng = new SplittableRandom(seeds[e]);
            double lossSum = 0;
            for (int t = 0; t < s.length(); t++) {
                for (int d = 0; d < D; d++) {
                    w.xd[d] = rng.nextDouble() < DROPOUT ? 0f : s.x()[t * D + d] / (1f - DROPOUT);
                }
                float max = Float.NEGATIVE_INFINITY;
                int arg = 0;
                for (int k = 0; k < K; k++) {
                    float z = p[bOff + k];
                    for (int d = 0; d < D; d++) {
                        z += p[k * D + d] * w.xd[d];
                    }
                    w.probs[k] = z;
                    if (z > max) {
                        max = z;
                        arg = k;
                    }
                }
                float sum = 0;
                for (int k = 0; k < K; k++) {
                    w.probs[k] = (float) Math.exp(w.probs[k] - max);
                    sum += w.probs[k];
                }
                int y = s.y()[t];
                lossSum += -Math.log(w.probs[y] / sum);
                for (int k = 0; k < K; k++) {
                    float dz = w.probs[k] / sum - (k == y ? 1f : 0f);
                    g[bOff + k] += dz;
                    for (int d = 0; d < D; d++) {
                        g[k * D + d] += dz * w.xd[d];
                    }
                }
                if (arg == y) {
                    stats.add(0, 1);
                }
            }
            stats.addLoss(lossSum, s.length());
        }
    }

    /** Momentum SGD with a linearly decaying rate; its velocity (one state slot) is the state to checkpoint. */
    static final class Momentum implements ElementwiseOptimizer {
        final float lr;
        final float mu;

        Momentum(float lr, float mu) {
            this.lr = lr;
            this.mu = mu;
        }

        @Override
        public int stateSlots() {
            return 1;
        }

        @Override
        public void update(float[] params, float[] grads, float gradScale, float[][] state, int offset, int step,
                long updates) {
            float rate = lr * (1f - step / 100f);
            float[] v = state[0];
            for (int i = 0; i < params.length; i++) {
                v[i] = mu * v[i] + grads[i] * gradScale;
                params[i] -= rate * v[i];
            }
        }
    }

    /** n sequences of 1..6 tokens whose labels follow a hidden linear rule plus noise. */
    static List<Seq> data(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] hidden = new float[K * D];
        for (int i = 0; i < hidden.length; i++) {
            hidden[i] = (float) r.nextGaussian();
        }
        List<Seq> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int t = 1 + r.nextInt(6);
            float[] x = new float[t * D];
            int[] y = new int[t];
            for (int j = 0; j < t; j++) {
                int best = 0;
                double bestZ = Double.NEGATIVE_INFINITY;
                for (int d = 0; d < D; d++) {
                    x[j * D + d] = (float) r.nextGaussian();
                }
                for (int k = 0; k < K; k++) {
                    double z = r.nextGaussian() * 0.5;
                    for (int d = 0; d < D; d++) {
                        z += hidden[k * D + d] * x[j * D + d];
                    }
                    if (z > bestZ) {
                        bestZ = z;
                        best = k;
                    }
                }
                y[j] = best;
            }
            out.add(new Seq(x, y));
        }
        return out;
    }

    static float[] initParams(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] p = new float[PARAMS];
        for (int i = 0; i < K * D; i++) {
            p[i] = (float) (0.1 * r.nextGaussian());
        }
        return p;
    }

    /**
     * The same training without Spark: for each step, the examples whose epoch position falls in
     * the step's window, in index order, in micro-batches; divide by the tokens, clip, step.
     */
    static float[] referenceTrain(List<Seq> data, TrainerConfig c, int steps) {
        SoftmaxRegression loss = new SoftmaxRegression();
        Work w = loss.createState(PARAMS);
        float[] p = initParams(7);
        Momentum opt = new Momentum(0.5f, 0.9f);
        float[][] velocity = new float[1][PARAMS];
        long n = data.size();
        long spe = Math.max(1, n / c.globalBatch());
        for (int s = 0; s < steps; s++) {
            EpochPermutation perm = new EpochPermutation(n, c.seed(), s / spe);
            long lo = (s % spe) * c.globalBatch();
            long hi = Math.min(lo + c.globalBatch(), n);
            float[] g = new float[PARAMS];
            LossStats stats = new LossStats(1);
            List<Seq> mb = new ArrayList<>();
            List<Long> seeds = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                long pos = perm.position(i);
                if (pos >= lo && pos < hi) {
                    mb.add(data.get(i));
                    seeds.add(Seeds.forExample(c.seed(), s, i));
                    if (mb.size() == c.microBatch()) {
                        loss.accumulate(w, p, mb, seeds.stream().mapToLong(Long::longValue).toArray(), g, stats);
                        mb.clear();
                        seeds.clear();
                    }
                }
            }
            if (!mb.isEmpty()) {
                loss.accumulate(w, p, mb, seeds.stream().mapToLong(Long::longValue).toArray(), g, stats);
            }
            for (int i = 0; i < g.length; i++) {
                g[i] = (float) (g[i] / stats.weight());
            }
            GradClip.clipGlobalNorm(g, c.maxGradNorm());
            opt.update(p, g, 1f, velocity, 0, s, s);
        }
        return p;
    }

    /** First differing index, values and the max |difference|, for failure messages. */
    static String diff(float[] a, float[] b) {
        int first = -1;
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] != b[i] && first < 0) {
                first = i;
            }
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return first < 0 ? "identical" : "first difference at " + first + ": " + a[first] + " vs " + b[first]
                + ", max |diff| " + max + " (" + Arrays.toString(Arrays.copyOf(a, 4)) + "...)";
    }
}
