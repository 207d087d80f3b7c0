package rlhf.spark;

/**
 * A seeded pseudo-random permutation of [0, n) that every executor evaluates on its own, in O(1)
 * memory and time per element: {@code position(i)} is where example i lands in the epoch's order.
 *
 * <p>Why not a shuffled array: each executor only needs the positions of the examples it holds,
 * and an int[n] per epoch on every JVM (or on the driver, shipped with every task) would grow with
 * the dataset. A 4-round Feistel network over the smallest even power of two covering n, with
 * cycle walking back into [0, n), is a bijection computed from the index alone. It is inverted
 * the same way ({@link #index}): a step finds its batch's examples from their positions, in time
 * proportional to the batch, not to the dataset.
 */
public final class EpochPermutation {

    private static final int ROUNDS = 4;

    private final long n;
    private final int halfBits;
    private final long halfMask;
    private final long[] roundKeys = new long[ROUNDS];

    public EpochPermutation(long n, long seed, long epoch) {
        if (n < 1) {
            throw new IllegalArgumentException("permutation size must be >= 1, found " + n);
        }
        this.n = n;
        int bits = Math.max(2, 64 - Long.numberOfLeadingZeros(n - 1));
        this.halfBits = (bits + 1) / 2;
        this.halfMask = (1L << halfBits) - 1;
        long k = Seeds.forEpoch(seed, epoch);
        for (int r = 0; r < ROUNDS; r++) {
            k = Seeds.mix(k + r + 1);
            roundKeys[r] = k;
        }
    }

    public long size() {
        return n;
    }

    /** Position of element {@code i} (0 <= i < n) in this epoch's order. */
    public long position(long i) {
        if (i < 0 || i >= n) {
            throw new IndexOutOfBoundsException("index " + i + " outside [0, " + n + ")");
        }
        long x = i;
        do {
            x = feistel(x);
        } while (x >= n); // cycle walking: the domain is at most 4n, so few iterations
        return x;
    }

    /**
     * The element at {@code position} (0 <= position < n): the inverse of {@link #position}. Walking
     * the inverse network back from a position passes the same out-of-range values that the forward
     * walk passed, in reverse, so it stops at the element that walked forward to it.
     */
    public long index(long position) {
        if (position < 0 || position >= n) {
            throw new IndexOutOfBoundsException("position " + position + " outside [0, " + n + ")");
        }
        long x = position;
        do {
            x = feistelInverse(x);
        } while (x >= n);
        return x;
    }

    private long feistel(long x) {
        long left = x >>> halfBits;
        long right = x & halfMask;
        for (int r = 0; r < ROUNDS; r++) {
            long f = Seeds.mix(right ^ roundKeys[r]) & halfMask;
            long t = left ^ f;
            left = right;
            right = t;
        }
        return (left << halfBits) | right;
    }

    /** Undoes {@link #feistel}: each round (l, r) -> (r, l ^ f(r)) is undone last round first. */
    private long feistelInverse(long x) {
        long left = x >>> halfBits;
        long right = x & halfMask;
        for (int r = ROUNDS - 1; r >= 0; r--) {
            long f = Seeds.mix(left ^ roundKeys[r]) & halfMask;
            long t = right ^ f;
            right = left;
            left = t;
        }
        return (left << halfBits) | right;
    }
}
