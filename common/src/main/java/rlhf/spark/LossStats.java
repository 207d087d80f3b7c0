package rlhf.spark;

import java.io.Serializable;
import java.util.Arrays;

/**
 * Unnormalised sums a loss reports for the examples it saw: the loss summed over its weight units
 * (tokens for SFT, pairs for the reward model), the number of those units, and any extra sums the
 * loss names in {@link PartitionLoss#statNames()} (correct pairs, KL, clipped fraction...). The
 * driver adds the partitions' sums in partition order and divides by the global weight, so the
 * average is per unit over the whole global batch, whatever the partitioning.
 */
public final class LossStats implements Serializable {

    private static final long serialVersionUID = 1L;

    private double loss;
    private double weight;
    private final double[] extra;

    public LossStats(int extraCount) {
        this.extra = new double[extraCount];
    }

    /** Adds a loss summed over {@code weight} units (e.g. 37 response tokens, or 1 pair). */
    public void addLoss(double lossSum, double weight) {
        this.loss += lossSum;
        this.weight += weight;
    }

    /** Adds to the extra sum number {@code index} of {@link PartitionLoss#statNames()}. */
    public void add(int index, double value) {
        if (index < 0 || index >= extra.length) {
            throw new IndexOutOfBoundsException("stat index " + index + " but the loss names "
                    + extra.length + " stats");
        }
        extra[index] += value;
    }

    public double loss() {
        return loss;
    }

    public double weight() {
        return weight;
    }

    public double extra(int index) {
        return extra[index];
    }

    public int extraCount() {
        return extra.length;
    }

    /** this += other; the driver calls it in partition order. */
    void addAll(LossStats other) {
        if (other.extra.length != extra.length) {
            throw new IllegalArgumentException("stats of " + other.extra.length + " extras added to "
                    + extra.length);
        }
        loss += other.loss;
        weight += other.weight;
        for (int i = 0; i < extra.length; i++) {
            extra[i] += other.extra[i];
        }
    }

    @Override
    public String toString() {
        return "LossStats{loss=" + loss + ", weight=" + weight + ", extra=" + Arrays.toString(extra) + "}";
    }
}
