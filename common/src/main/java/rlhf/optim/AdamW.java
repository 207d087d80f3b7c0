package rlhf.optim;

import java.util.ArrayList;
import java.util.List;

import rlhf.model.ParamLayout;
import rlhf.tensor.Parallel;

/**
 * AdamW (Loshchilov and Hutter): Adam with bias correction and weight decay decoupled from the
 * gradient, {@code p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p)}. Decay applies only to the
 * views whose {@link ParamLayout.View#decay()} is true (matrices, not biases, LayerNorm or
 * embeddings) unless {@code decayAll}.
 *
 * <p>This object holds the whole state (two float[]s of the parameter layout plus the update
 * count, exposed so checkpoints can save and restore them: {@link #m()}, {@link #v()},
 * {@link #step()}, {@link #restore}). {@link AdamWUpdate} is the same update over any shard of
 * the parameters, for the trainer; both run {@link #update(float[], float[], float, float[], float[], int, int[], Hyper, float, long)}.
 */
public final class AdamW {

    /** The constants of an update. */
    record Hyper(float beta1, float beta2, float eps, float weightDecay) implements java.io.Serializable {
        Hyper {
            if (!(beta1 >= 0f && beta1 < 1f) || !(beta2 >= 0f && beta2 < 1f)) {
                throw new IllegalArgumentException("AdamW betas must be in [0, 1), found beta1=" + beta1 + " beta2="
                        + beta2);
            }
            if (!(eps > 0f) || !(weightDecay >= 0f)) {
                throw new IllegalArgumentException("AdamW needs eps > 0 and weight_decay >= 0, found eps=" + eps
                        + " weight_decay=" + weightDecay);
            }
        }
    }

    private final Hyper hyper;
    /** [start, end) pairs of the parameters weight decay applies to, ascending. */
    private final int[] decayRanges;
    private final float[] m;
    private final float[] v;
    private long step;

    public AdamW(ParamLayout layout, float beta1, float beta2, float eps, float weightDecay, boolean decayAll) {
        this.hyper = new Hyper(beta1, beta2, eps, weightDecay);
        this.decayRanges = decayRanges(layout, decayAll);
        int P = layout.size();
        this.m = new float[P];
        this.v = new float[P];
    }

    /** GPT-2-style defaults: beta1 0.9, beta2 0.95, eps 1e-8, matrices decayed only. */
    public AdamW(ParamLayout layout, float weightDecay) {
        this(layout, 0.9f, 0.95f, 1e-8f, weightDecay, false);
    }

    /** One update of params in place from grads (same layout) at learning rate lr. */
    public void update(float[] params, float[] grads, float lr) {
        if (params.length != m.length || grads.length != m.length) {
            throw new IllegalArgumentException("AdamW state has " + m.length + " floats, found params="
                    + params.length + " grads=" + grads.length);
        }
        step++;
        update(params, grads, 1f, m, v, 0, decayRanges, hyper, lr, step);
    }

    /**
     * Update number {@code t} (1-based) of the parameters [offset, offset + params.length), whose
     * elements params, grads, m and v hold; elementwise, so neither the split over threads nor the
     * split into shards changes a bit.
     */
    static void update(float[] params, float[] grads, float scale, float[] m, float[] v, int offset, int[] decayRanges,
            Hyper h, float lr, long t) {
        float beta1 = h.beta1(), beta2 = h.beta2(), eps = h.eps();
        float c1 = (float) (1.0 / (1.0 - Math.pow(beta1, t)));
        float c2 = (float) (1.0 / (1.0 - Math.pow(beta2, t)));
        float wd = lr * h.weightDecay();
        Parallel.forRange(params.length, 1 << 16, (from, to) -> {
            // walk the decayed ranges that meet [from, to), in local indices
            int i = from;
            for (int r = 0; r < decayRanges.length && i < to; r += 2) {
                int a = Math.max(decayRanges[r] - offset, i), b = Math.min(decayRanges[r + 1] - offset, to);
                if (b <= i) {
                    continue;
                }
                if (a >= to) {
                    break;
                }
                kernel(params, grads, scale, m, v, i, a, beta1, beta2, eps, lr, 0f, c1, c2);
                kernel(params, grads, scale, m, v, a, b, beta1, beta2, eps, lr, wd, c1, c2);
                i = b;
            }
            kernel(params, grads, scale, m, v, i, to, beta1, beta2, eps, lr, 0f, c1, c2);
        });
    }

    /** Elements [from, to): the scalar AdamW step with decay wd (0 for no decay), gradients times scale. */
    private static void kernel(float[] params, float[] grads, float scale, float[] m, float[] v, int from, int to,
            float beta1, float beta2, float eps, float lr, float wd, float c1, float c2) {
        for (int i = from; i < to; i++) {
            float g = grads[i] * scale;
            float mi = beta1 * m[i] + (1f - beta1) * g;
            float vi = beta2 * v[i] + (1f - beta2) * g * g;
            m[i] = mi;
            v[i] = vi;
            float mhat = mi * c1;
            float vhat = vi * c2;
            params[i] -= lr * (mhat / ((float) Math.sqrt(vhat) + eps)) + wd * params[i];
        }
    }

    /** The [start, end) pairs of the views weight decay applies to (adjacent views merged). */
    static int[] decayRanges(ParamLayout layout, boolean decayAll) {
        List<int[]> ranges = new ArrayList<>();
        for (ParamLayout.View view : layout.views()) {
            if (decayAll || view.decay()) {
                int[] last = ranges.isEmpty() ? null : ranges.get(ranges.size() - 1);
                if (last != null && last[1] == view.offset()) {
                    last[1] += view.size();
                } else {
                    ranges.add(new int[] {view.offset(), view.offset() + view.size()});
                }
            }
        }
        int[] out = new int[2 * ranges.size()];
        for (int i = 0; i < ranges.size(); i++) {
            out[2 * i] = ranges.get(i)[0];
            out[2 * i + 1] = ranges.get(i)[1];
        }
        return out;
    }

    /** First moment (layout of params); live state, not a copy. */
    public float[] m() {
        return m;
    }

    /** Second moment (layout of params); live state, not a copy. */
    public float[] v() {
        return v;
    }

    /** Number of updates done so far (bias correction uses it). */
    public long step() {
        return step;
    }

    /** Restore state saved from {@link #m()}, {@link #v()}, {@link #step()}. */
    public void restore(float[] m, float[] v, long step) {
        if (m.length != this.m.length || v.length != this.v.length || step < 0) {
            throw new IllegalArgumentException("optimizer state has " + m.length + "/" + v.length
                    + " floats and step " + step + ", expected " + this.m.length + " floats and step >= 0");
        }
        System.arraycopy(m, 0, this.m, 0, m.length);
        System.arraycopy(v, 0, this.v, 0, v.length);
        this.step = step;
    }
}
