package rlhf.optim;

/** Gradient clipping by global L2 norm (as torch.nn.utils.clip_grad_norm_). */
public final class GradClip {

    private GradClip() {
    }

    /**
     * Scales grads in place so their L2 norm is at most maxNorm (no-op when maxNorm <= 0 or the
     * norm is already below) and returns the norm before clipping, summed as {@link #norm} does:
     * the clipping of a single-process training loop.
     */
    public static float clipGlobalNorm(float[] grads, float maxNorm) {
        float norm = (float) norm(grads);
        multiply(grads, clipFactor(norm, maxNorm));
        return norm;
    }

    /**
     * Norms are sums of squares over blocks of this many elements, each summed in double in a fixed
     * order ({@link #sumOfSquares}), then the block sums added in block order: a fixed association that a whole gradient on
     * the driver and its shards on the executors (cut at multiples of the block) give bit for bit.
     */
    public static final int NORM_BLOCK = 4096;

    /** The L2 norm of g, summed per {@link #NORM_BLOCK}. */
    public static double norm(float[] g) {
        double[] blocks = new double[blocks(g.length)];
        rlhf.tensor.Parallel.forRange(blocks.length, 16, (from, to) -> {
            for (int b = from; b < to; b++) {
                blocks[b] = sumOfSquares(g, b * NORM_BLOCK, Math.min(g.length, (b + 1) * NORM_BLOCK));
            }
        });
        return Math.sqrt(sumInOrder(blocks));
    }

    /** The number of norm blocks of {@code n} elements. */
    public static int blocks(int n) {
        return (n + NORM_BLOCK - 1) / NORM_BLOCK;
    }

    /** The sum of {@code partial}s in index order (the block sums of a whole gradient). */
    public static double sumInOrder(double[] partial) {
        double sq = 0;
        for (double x : partial) {
            sq += x;
        }
        return sq;
    }

    /**
     * The sum of squares of g[from, to) in double: one block's part of a norm. Eight running sums,
     * sum j taking the elements i with (i - from) % 8 == j in index order, added pairwise at the end:
     * a fixed association (the same bits wherever the block is summed) that does not wait on one
     * add after another.
     */
    public static double sumOfSquares(float[] g, int from, int to) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int i = from;
        for (; i + 8 <= to; i += 8) {
            s0 += (double) g[i] * g[i];
            s1 += (double) g[i + 1] * g[i + 1];
            s2 += (double) g[i + 2] * g[i + 2];
            s3 += (double) g[i + 3] * g[i + 3];
            s4 += (double) g[i + 4] * g[i + 4];
            s5 += (double) g[i + 5] * g[i + 5];
            s6 += (double) g[i + 6] * g[i + 6];
            s7 += (double) g[i + 7] * g[i + 7];
        }
        for (int j = 0; i < to; i++, j++) {   // the last (to - from) % 8 elements
            double v = (double) g[i] * g[i];
            switch (j) {
                case 0 -> s0 += v;
                case 1 -> s1 += v;
                case 2 -> s2 += v;
                case 3 -> s3 += v;
                case 4 -> s4 += v;
                case 5 -> s5 += v;
                default -> s6 += v;          // j < 7: fewer than 8 elements remain
            }
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }

    /**
     * The factor {@link #clipGlobalNorm} multiplies by, or 1 when it leaves the gradient as it is
     * (maxNorm <= 0, or the norm already below).
     */
    public static float clipFactor(float norm, float maxNorm) {
        return maxNorm > 0f && norm > maxNorm ? maxNorm / (norm + 1e-6f) : 1f;
    }

    /** g *= factor unless factor is 1 (a clip factor). */
    public static void multiply(float[] g, float factor) {
        if (factor != 1f) {
            rlhf.tensor.Parallel.forRange(g.length, 1 << 16, (from, to) -> {
                for (int i = from; i < to; i++) {
                    g[i] *= factor;
                }
            });
        }
    }
}
