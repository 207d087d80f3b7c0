package rlhf.model;

/**
 * Loss building blocks over the outputs of the heads. Each returns the loss SUM (callers divide
 * by a count of their choosing, e.g. tokens across all partitions) and its backward accumulates
 * {@code scale * dloss/dx} into the head's upstream gradient.
 */
public final class Losses {

    private Losses() {
    }

    /** Masked token cross-entropy: sum over i < n with targets[i] >= 0 of -logp[i]. */
    public static double tokenCrossEntropySum(float[] logp, int[] targets, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            if (targets[i] >= 0) {
                s -= logp[i];
            }
        }
        return s;
    }

    /** Number of positions i < n that carry a target (targets[i] >= 0). */
    public static int countTargets(int[] targets, int n) {
        int c = 0;
        for (int i = 0; i < n; i++) {
            if (targets[i] >= 0) {
                c++;
            }
        }
        return c;
    }

    /** Backward of scale * {@link #tokenCrossEntropySum}: dlogp[i] += -scale where targets[i] >= 0. */
    public static void tokenCrossEntropyBackward(float[] dlogp, int[] targets, int n, float scale) {
        for (int i = 0; i < n; i++) {
            if (targets[i] >= 0) {
                dlogp[i] -= scale;
            }
        }
    }

    /**
     * Pairwise ranking loss of a reward model (InstructGPT eq. 1): sum over i < n of
     * -log sigmoid(chosen[i] - rejected[i]), computed stably as softplus(rejected - chosen).
     */
    public static double pairwiseRankingSum(float[] chosen, float[] rejected, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += softplus((double) rejected[i] - chosen[i]);
        }
        return s;
    }

    /** Backward of scale * {@link #pairwiseRankingSum}: dchosen += -scale·sigmoid(r-c), drejected += the opposite. */
    public static void pairwiseRankingBackward(float[] chosen, float[] rejected, int n, float scale,
                                               float[] dchosen, float[] drejected) {
        for (int i = 0; i < n; i++) {
            float g = (float) (scale * sigmoid((double) rejected[i] - chosen[i]));
            dchosen[i] -= g;
            drejected[i] += g;
        }
    }

    /** log(1 + e^x) without overflow. */
    public static double softplus(double x) {
        return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
    }

    public static double sigmoid(double x) {
        return x >= 0 ? 1.0 / (1.0 + Math.exp(-x)) : Math.exp(x) / (1.0 + Math.exp(x));
    }
}
