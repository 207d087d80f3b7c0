package rlhf.tensor;

/**
 * Counter-based random numbers: every draw is a pure function of (seed, stream, index), so
 * dropout masks, initial weights and sampled tokens do not depend on thread scheduling, batch
 * composition or how many draws came before (no shared {@code java.util.Random} state).
 *
 * <p>The mixer is SplitMix64's finaliser (Steele, Lea, Flood 2014), applied twice over the
 * combined counter; it passes BigCrush as a counter-based generator.
 */
public final class Rng {

    private Rng() {
    }

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    /** SplitMix64 finaliser: a bijective avalanche of 64 bits. */
    public static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** 64 random bits for (seed, stream, index). */
    public static long bits(long seed, long stream, long index) {
        return mix(mix(seed + GOLDEN) ^ mix(stream * GOLDEN + 0x632BE59BD9B4E019L) + index * GOLDEN);
    }

    /** Uniform in [0, 1) with 24 bits, for (seed, stream, index). */
    public static float uniform(long seed, long stream, long index) {
        return (bits(seed, stream, index) >>> 40) * 0x1.0p-24f;
    }

    /** Uniform in [0, 1) with 53 bits, for (seed, stream, index). */
    public static double uniformDouble(long seed, long stream, long index) {
        return (bits(seed, stream, index) >>> 11) * 0x1.0p-53;
    }

    /** Standard normal for (seed, stream, index) by Box-Muller over two independent uniforms. */
    public static double normal(long seed, long stream, long index) {
        double u1 = uniformDouble(seed, stream, 2 * index);
        double u2 = uniformDouble(seed, stream, 2 * index + 1);
        return Math.sqrt(-2.0 * Math.log(1.0 - u1)) * Math.cos(2.0 * Math.PI * u2);
    }
}
