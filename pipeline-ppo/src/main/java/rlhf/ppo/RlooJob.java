package rlhf.ppo;

/**
 * RLOO: {@code bin/rlhf rloo --config FILE [--set k=v ...] [--resume]}, or
 * {@code spark-submit --class rlhf.ppo.RlooJob rlhf-pipeline-ppo.jar ...}. Keys: conf/rloo.properties.
 *
 * <p>PPO's engine without a critic ({@link PpoJob}, {@link Algorithm#RLOO}): k samples of each
 * prompt, the baseline of each the mean reward of the other k - 1 ({@link GroupAdvantages}), the
 * KL in the reward as TRL's RLOO trainer has it, the clipped ratio objective.
 */
public final class RlooJob {

    private RlooJob() {
    }

    public static void main(String[] argv) {
        PpoJob.main(Algorithm.RLOO, "RLOO of an SFT policy: leave-one-out baselines, no critic", argv);
    }
}
