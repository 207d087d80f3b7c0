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
        if (maxNorm > 0f && norm > maxNorm) {
            float s = maxNorm / (norm + 1e-6f);
            for (int i = 0; i < grads.length; i++) {
                grads[i] *= s;
            }
        }
        return norm;
    }
}
