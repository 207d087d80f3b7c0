package rlhf.model;

/**
 * Keys and values of every layer for up to maxB rows of maxT positions, preallocated:
 * k, v (L, maxB, maxT, C), head h at columns h·HS. Row b holds {@link #length(int)} positions.
 */
public final class KvCache {

    private final int maxB;
    private final int maxT;
    private final int C;
    private final float[] k;
    private final float[] v;
    private final int[] lengths;

    public KvCache(GptConfig cfg, int maxB, int maxT) {
        if (maxT > cfg.maxSeqLen()) {
            throw new IllegalArgumentException("KV cache length " + maxT + " exceeds n_positions=" + cfg.maxSeqLen());
        }
        long size = (long) cfg.nLayer() * maxB * maxT * cfg.nEmbd();
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("KV cache for maxB=" + maxB + " maxT=" + maxT + " does not fit in a Java array");
        }
        this.maxB = maxB;
        this.maxT = maxT;
        this.C = cfg.nEmbd();
        this.k = new float[(int) size];
        this.v = new float[(int) size];
        this.lengths = new int[maxB];
    }

    /** Offset of (layer l, row b, position t) in {@link #keys()} and {@link #values()}. */
    public int offset(int l, int b, int t) {
        return ((l * maxB + b) * maxT + t) * C;
    }

    public float[] keys() {
        return k;
    }

    public float[] values() {
        return v;
    }

    public int length(int b) {
        return lengths[b];
    }

    void setLength(int b, int len) {
        lengths[b] = len;
    }

    public int maxB() {
        return maxB;
    }

    public int maxT() {
        return maxT;
    }

    /** Forget all rows (the buffers are reused). */
    public void clear() {
        java.util.Arrays.fill(lengths, 0);
    }
}
