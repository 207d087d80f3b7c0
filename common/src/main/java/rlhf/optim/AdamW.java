package rlhf.optim;

import rlhf.model.ParamLayout;
import rlhf.tensor.Parallel;

/**
 * AdamW (Loshchilov and Hutter): Adam with bias correction and weight decay decoupled from the
 * gradient, {@code p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p)}. Decay applies only to the
 * views whose {@link ParamLayout.View#decay()} is true (matrices, not biases, LayerNorm or
 * embeddings) unless {@code decayAll}.
 *
 * <p>State is two float[]s of the parameter layout plus the step count, exposed so checkpoints
 * can save and restore them ({@link #m()}, {@link #v()}, {@link #step()}, {@link #restore}).
 */
public final class AdamW {

    private final float beta1;
    private final float beta2;
    private final float eps;
    private final float weightDecay;
    /** (P) 1 where weight decay applies, else 0. */
    private final float[] decayMask;
    private final float[] m;
    private final float[] v;
    private long step;

    public AdamW(ParamLayout layout, float beta1, float beta2, float eps, float weightDecay, boolean decayAll) {
        if (!(beta1 >= 0f && beta1 < 1f) || !(beta2 >= 0f && beta2 < 1f)) {
            throw new IllegalArgumentException("AdamW betas must be in [0, 1), found beta1=" + beta1 + " beta2=" + beta2);
        }
        if (!(eps > 0f) || !(weightDecay >= 0f)) {
            throw new IllegalArgumentException("AdamW needs eps > 0 and weight_decay >= 0, found eps=" + eps
                    + " weight_decay=" + weightDecay);
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        int P = layout.size();
        this.decayMask = new float[P];
        for (ParamLayout.View view : layout.views()) {
            if (decayAll || view.decay()) {
                java.util.Arrays.fill(decayMask, view.offset(), view.offset() + view.size(), 1f);
            }
        }
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
        float c1 = (float) (1.0 / (1.0 - Math.pow(beta1, step)));
        float c2 = (float) (1.0 / (1.0 - Math.pow(beta2, step)));
        float wd = lr * weightDecay;
        // elementwise, so the split over threads does not change the result
        Parallel.forRange(params.length, 1 << 16, (from, to) -> {
            for (int i = from; i < to; i++) {
                float g = grads[i];
                float mi = beta1 * m[i] + (1f - beta1) * g;
                float vi = beta2 * v[i] + (1f - beta2) * g * g;
                m[i] = mi;
                v[i] = vi;
                float mhat = mi * c1;
                float vhat = vi * c2;
                params[i] -= lr * (mhat / ((float) Math.sqrt(vhat) + eps)) + wd * decayMask[i] * params[i];
            }
        });
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
