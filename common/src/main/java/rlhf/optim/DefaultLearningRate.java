package rlhf.optim;

/**
 * AdamW's peak learning rate when the config says {@code optim.lr = auto}: a rate that fits the
 * model's width, so a small model trained from scratch and GPT-2 fine-tuned both train with the
 * defaults.
 *
 * <p>Training from scratch: 6e-4 × 768 / width, at most 1e-3. That follows the rates the GPT-3 paper
 * (Brown et al. 2020, table 2.1) used for its models up to 13B within a factor of 1.5 (6e-4 at width
 * 768, 2e-4 at 2048, 1.2e-4 at 4096), and caps narrow models at nanoGPT's rate for its small ones.
 *
 * <p>Fine-tuning a trained model (the job starts from {@code model.init}): a tenth of that, the
 * usual ratio of fine-tuning to pre-training rates: 6e-5 for GPT-2 small, about 1e-5 at width 4096
 * (InstructGPT trained its 6B reward model at 9e-6).
 */
public final class DefaultLearningRate {

    private static final double MAX = 1e-3;
    /** GPT-2 small's rate at its width; the rate falls inversely with width. */
    private static final double PER_WIDTH = 6e-4 * 768;
    private static final double FINE_TUNING_SHARE = 0.1;

    private DefaultLearningRate() {
    }

    /** @param width the model's embedding width (n_embd) */
    public static float of(int width, boolean fineTuning) {
        if (width <= 0) {
            throw new IllegalArgumentException("model width must be positive, found " + width);
        }
        double fromScratch = Math.min(MAX, PER_WIDTH / width);
        return (float) (fineTuning ? fromScratch * FINE_TUNING_SHARE : fromScratch);
    }

    /** The rate at the end of the decay when {@code optim.min_lr = auto}: a tenth of the peak. */
    public static float endOf(float peak) {
        return peak / 10f;
    }
}
