package rlhf.spark;

import rlhf.tensor.Rng;

/**
 * Seeds derived from (run seed, step, example index) by SplitMix64 mixing. Nothing depends on the
 * partition or the attempt, so a retried task or a different partitioning draws the same numbers.
 */
public final class Seeds {

    private Seeds() {
    }

    /** SplitMix64 finaliser ({@link Rng#mix}): a bijection of 64-bit values with good avalanche. */
    public static long mix(long z) {
        return Rng.mix(z);
    }

    /** The seed of one example in one step: for dropout, sampling, anything random in its loss. */
    public static long forExample(long seed, long step, long exampleIndex) {
        return mix(mix(mix(seed + 0x9e3779b97f4a7c15L) ^ step) + exampleIndex);
    }

    /** The seed of one epoch's shuffle. */
    public static long forEpoch(long seed, long epoch) {
        return mix(mix(seed ^ 0x5851f42d4c957f2dL) + epoch);
    }
}
