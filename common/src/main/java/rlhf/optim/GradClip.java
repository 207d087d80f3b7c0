package rlhf.optim;

/** Gradient clipping by global L2 norm (as torch.nn.utils.clip_grad_norm_). */
public final class GradClip {

    private GradClip() {
    }

    /**
     * Scales grads in place so their L2 norm is at most maxNorm (no-op when maxNorm <= 0 or the
     * norm is already below) and returns the norm before clipping, summed as {@link #scale} does.
     */
    public static float clipGlobalNorm(float[] grads, float maxNorm) {
        float norm = (float) scale(grads, 1.0);
        clipGlobalNorm(grads, norm, maxNorm);
        return norm;
    }

    /**
     * {@link #clipGlobalNorm(float[], float)} for grads whose L2 norm is already known (as
     * {@link #scale} returns it): saves a pass over the gradient.
     */
    public static void clipGlobalNorm(float[] grads, float norm, float maxNorm) {
        multiply(grads, clipFactor(norm, maxNorm));
    }

    /**
     * Norms are sums of squares over blocks of this many elements, each summed in double in index
     * order, then the block sums added in block order: a fixed association that a whole gradient on
     * the driver and its shards on the executors (cut at multiples of the block) give bit for bit.
     */
    public static final int NORM_BLOCK = 4096;

    /**
     * g *= factor, each product taken in double (a sum over the batch -> a mean per token); returns
     * the L2 norm of the result, summed per {@link #NORM_BLOCK}.
     */
    public static double scale(float[] g, double factor) {
        double[] blocks = new double[blocks(g.length)];
        rlhf.tensor.Parallel.forRange(blocks.length, 16, (from, to) -> scaleBlocks(g, factor, blocks, from, to));
        return Math.sqrt(sumInOrder(blocks));
    }

    /**
     * One shard's part of {@link #scale}: scales g (the shard) in place and writes the sum of
     * squares of each of its {@link #NORM_BLOCK}s, in order, into {@code blockSums}; the shard must
     * start at a multiple of the block in the whole gradient.
     */
    public static void scaleShard(float[] g, double factor, double[] blockSums) {
        scaleBlocks(g, factor, blockSums, 0, blockSums.length);
    }

    /** The number of norm blocks of {@code n} elements. */
    public static int blocks(int n) {
        return (n + NORM_BLOCK - 1) / NORM_BLOCK;
    }

    /** The sum of {@code partial}s in index order (block sums, then shards' sums of them). */
    public static double sumInOrder(double[] partial) {
        double sq = 0;
        for (double x : partial) {
            sq += x;
        }
        return sq;
    }

    private static void scaleBlocks(float[] g, double factor, double[] blockSums, int fromBlock, int toBlock) {
        for (int b = fromBlock; b < toBlock; b++) {
            double sq = 0;
            for (int i = b * NORM_BLOCK, end = Math.min(g.length, i + NORM_BLOCK); i < end; i++) {
                float v = (float) (g[i] * factor);
                g[i] = v;
                sq += (double) v * v;
            }
            blockSums[b] = sq;
        }
    }

    /**
     * The factor {@link #clipGlobalNorm(float[], float, float)} multiplies by, or 1 when it leaves
     * the gradient as it is (maxNorm <= 0, or the norm already below).
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
