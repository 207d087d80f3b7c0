package rlhf.spark;

/**
 * What one step did. Loss and extras are sums over the global batch; {@link #loss()} and
 * {@link #mean(String)} divide by the weight (tokens, pairs).
 *
 * @param step      0-based number of the step just done
 * @param epoch     its epoch
 * @param examples  examples in its global batch
 * @param sums      loss, weight and extra sums, added in partition order
 * @param gradNorm  L2 norm of the averaged gradient before clipping
 * @param statNames names of the extra sums
 * @param exchange  where the step's time and bytes went
 */
public record StepResult(int step, long epoch, int examples, LossStats sums, float gradNorm, String[] statNames,
        ExchangeStats exchange) {

    /** Loss per weight unit over the global batch. */
    public double loss() {
        return sums.loss() / sums.weight();
    }

    public double weight() {
        return sums.weight();
    }

    /** Extra sum {@code name} divided by the weight. */
    public double mean(String name) {
        for (int i = 0; i < statNames.length; i++) {
            if (statNames[i].equals(name)) {
                return sums.extra(i) / sums.weight();
            }
        }
        throw new IllegalArgumentException("no stat '" + name + "'; the loss reports " + String.join(", ", statNames));
    }
}
