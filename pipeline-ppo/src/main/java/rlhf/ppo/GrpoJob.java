package rlhf.ppo;

/**
 * GRPO: {@code bin/rlhf grpo --config FILE [--set k=v ...] [--resume]}, or
 * {@code spark-submit --class rlhf.ppo.GrpoJob rlhf-pipeline-ppo.jar ...}. Keys: conf/grpo.properties.
 *
 * <p>PPO's engine without a critic ({@link PpoJob}, {@link Algorithm#GRPO}): G samples of each
 * prompt made by the task that holds it, every token of a response advantaged by its group's
 * normalised reward ({@link GroupAdvantages}), the clipped ratio objective, the KL to the
 * reference as a β·k3 loss term (or in the reward), losses aggregated per token, per sequence or
 * by a constant.
 */
public final class GrpoJob {

    private GrpoJob() {
    }

    public static void main(String[] argv) {
        PpoJob.main(Algorithm.GRPO, "GRPO of an SFT policy: group-normalised advantages, no critic", argv);
    }
}
