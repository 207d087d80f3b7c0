package rlhf.optim;

/** Gradient clipping by global L2 norm (as torch.nn.utils.clip_grad_norm_). */
public final class GradClip {

    private GradClip() {
    }

    /**
     * Scales grads in place so their L2 norm is at most maxNorm (no-op when maxNorm <= 0 or the
     * norm is already below) and returns the norm before clipping, summed in double.
     */
    public static float clipGlobalNorm(float[] grads, float maxNorm) {
        double sq = 0;
        for (float g : grads) {
            sq += (double) g * g;
        }
        float norm = (float) Math.sqrt(sq);
        clipGlobalNorm(grads, norm, maxNorm);
        return norm;
    }

    /**
     * {@link #clipGlobalNorm(float[], float)} for grads whose L2 norm is already known (as
     * {@link #scale} returns it): saves a pass over the gradient.
     */
    public static void clipGlobalNorm(float[] grads, float norm, float maxNorm) {
        if (maxNorm > 0f && norm > maxNorm) {
            float s = maxNorm / (norm + 1e-6f);
            for (int i = 0; i < grads.length; i++) {
                grads[i] *= s;
            }
        }
    }

    /**
     * g *= factor, each product taken in double (a sum over the batch -> a mean per token); returns
     * the L2 norm of the result, summed in double in index order.
     */
    public static double scale(float[] g, double factor) {
        double sq = 0;
        for (int i = 0; i < g.length; i++) {
            float v = (float) (g[i] * factor);
            g[i] = v;
            sq += (double) v * v;
        }
        return Math.sqrt(sq);
    }

    /**
     * Scales g so that its L2 norm, {@code norm} (as {@link #scale} returned it), is at most
     * maxNorm; no-op when maxNorm <= 0 or the norm is already below.
     */
    public static void clipToNorm(float[] g, double norm, double maxNorm) {
        if (maxNorm > 0 && norm > maxNorm) {
            float c = (float) (maxNorm / (norm + 1e-6));
            for (int i = 0; i < g.length; i++) {
                g[i] *= c;
            }
        }
    }
}
