package rlhf.spark;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.optim.AdamWSettings;
import rlhf.optim.DefaultLearningRate;
import rlhf.optim.LrSchedule;

/**
 * The keys of a supervised training stage that the SFT and reward jobs read with the same names,
 * ranges and meanings (conf/sft.properties, conf/reward.properties): batches, steps, seed, AdamW
 * and its schedule, evaluation, checkpoints and output. {@link StageLoop} runs a stage from them.
 *
 * @param lr         optim.lr, or NaN for auto: {@link DefaultLearningRate} for the model's width
 * @param minLr      optim.min_lr, or NaN for auto: a tenth of the peak
 * @param fineTuning whether the stage starts from a trained model (model.init), which auto rates
 *                   take into account
 * @param warmupSteps optim.warmup_steps, or -1 for auto: {@link #AUTO_WARMUP_SHARE} of the steps
 */
public record TrainingSettings(
        int globalBatch,
        int microBatch,
        int steps,
        int epochs,
        long seed,
        int stopAtStep,
        float lr,
        float minLr,
        boolean fineTuning,
        int warmupSteps,
        Schedule schedule,
        AdamWSettings adamW,
        TrainerConfig.ExchangeMode exchange,
        int exchangeShards,
        int evalEvery,
        int evalBatches,
        int checkpointEvery,
        int keepLast,
        boolean checkpointMoments,
        String outputDir,
        String metricsPath) {

    /** The trainer's settings for a stage named {@code name} of {@code totalSteps} steps. */
    public TrainerConfig trainerConfig(String name, int totalSteps) {
        return new TrainerConfig(name, globalBatch, microBatch, seed, adamW.gradClip(), totalSteps, exchange,
                exchangeShards);
    }

    /**
     * The warmup of optim.warmup_steps = auto, as a share of the stage's steps: the 3% common in
     * instruction tuning (Alpaca, Vicuna). A model trained from scratch at 1e-3 with no warmup
     * ends measurably worse (README, "Tasks the demo was not tuned on").
     */
    public static final double AUTO_WARMUP_SHARE = 0.03;

    /** Learning-rate schedule after warmup. */
    public enum Schedule { COSINE, CONSTANT }

    /** Reads and checks the training keys; range errors name the key, the value and where it came from. */
    public static TrainingSettings from(JobConfig c) {
        String out = c.getPath("output.dir");
        TrainingSettings s = new TrainingSettings(
                (int) c.requireIn("train.global_batch", 1, 1 << 24),
                (int) c.requireIn("train.micro_batch", 1, 1 << 16),
                (int) c.requireIn("train.steps", 0, Integer.MAX_VALUE),
                (int) c.requireIn("train.epochs", 1, 1 << 20),
                c.getLong("train.seed"),
                (int) c.requireIn("train.stop_at_step", 0, Integer.MAX_VALUE),
                rateOrAuto(c, "optim.lr"),
                rateOrAuto(c, "optim.min_lr"),
                c.getOptional("model.init").isPresent(),
                c.getString("optim.warmup_steps").equalsIgnoreCase("auto") ? -1
                        : (int) c.requireIn("optim.warmup_steps", 0, Integer.MAX_VALUE),
                c.getEnum("optim.schedule", Schedule.class),
                AdamWSettings.from(c),
                c.getEnum("train.exchange", TrainerConfig.ExchangeMode.class),
                (int) c.requireIn("train.exchange_shards", 0, 1 << 16),
                (int) c.requireIn("eval.every", 0, Integer.MAX_VALUE),
                (int) c.requireIn("eval.batches", 0, Integer.MAX_VALUE),
                (int) c.requireIn("checkpoint.every", 0, Integer.MAX_VALUE),
                (int) c.requireIn("checkpoint.keep_last", 0, 1 << 20),
                c.getBoolean("checkpoint.moments"),
                out,
                c.getOptional("metrics.path").orElse(withoutTrailingSlash(out) + "/metrics.jsonl"));
        if (s.minLr > s.lr) {
            throw new ConfigException("config key 'optim.min_lr' = " + s.minLr + " is above optim.lr = " + s.lr);
        }
        return s;
    }

    private static float rateOrAuto(JobConfig c, String key) {
        return c.getString(key).equalsIgnoreCase("auto") ? Float.NaN : (float) c.requireIn(key, 0, 10);
    }

    /** The peak learning rate for a model of this width: optim.lr, or its auto value. */
    public float peakLr(int width) {
        return Float.isNaN(lr) ? DefaultLearningRate.of(width, fineTuning) : lr;
    }

    /** The rate at the end of the cosine decay: optim.min_lr, or a tenth of the peak. */
    public float endLr(int width) {
        return Float.isNaN(minLr) ? DefaultLearningRate.endOf(peakLr(width)) : minLr;
    }

    /** Whether optim.lr or optim.min_lr is auto (the job then logs what it chose). */
    public boolean autoLr() {
        return Float.isNaN(lr) || Float.isNaN(minLr);
    }

    /** train.steps, or train.epochs passes of max(1, examples / global batch) steps (a partial batch is dropped). */
    public int totalSteps(long examples) {
        long stepsPerEpoch = Math.max(1, examples / globalBatch);
        return steps > 0 ? steps : (int) Math.min(Integer.MAX_VALUE, epochs * stepsPerEpoch);
    }

    /** Where this invocation stops: train.stop_at_step (to continue later with --resume) or the end. */
    public int stopAt(int totalSteps) {
        return stopAtStep > 0 ? Math.min(stopAtStep, totalSteps) : totalSteps;
    }

    /**
     * Warmup, then cosine decay to optim.min_lr at the last step, or optim.lr throughout when
     * constant; auto rates are those of a model of this width.
     */
    public LrSchedule lrSchedule(int totalSteps, int width) {
        float peak = peakLr(width);
        float end = endLr(width);
        if (end > peak) {
            throw new ConfigException("config key 'optim.min_lr' = " + end + " is above optim.lr = " + peak
                    + (Float.isNaN(lr) ? " (auto for a model of width " + width + ")" : ""));
        }
        return new LrSchedule(peak, schedule == Schedule.CONSTANT ? peak : end, warmup(totalSteps), totalSteps);
    }

    /** Warmup steps of a stage of {@code totalSteps}: optim.warmup_steps (at most all), or its auto share. */
    public int warmup(int totalSteps) {
        return warmupSteps < 0 ? (int) Math.round(AUTO_WARMUP_SHARE * totalSteps) : Math.min(warmupSteps, totalSteps);
    }

    /** Evaluations see the examples of global index below this: eval.batches global batches, or all (0). */
    public long evalLimit() {
        return evalBatches > 0 ? (long) evalBatches * globalBatch : Long.MAX_VALUE;
    }

    /** Whether to evaluate after {@code done} steps: every eval.every steps, and after the last. */
    public boolean evaluatesAfter(int done, int totalSteps) {
        return done == totalSteps || (evalEvery > 0 && done % evalEvery == 0);
    }

    /** The finished model of the stage, which the next stage starts from. */
    public String finalDir() {
        return withoutTrailingSlash(outputDir) + "/final";
    }

    private static String withoutTrailingSlash(String dir) {
        return dir.replaceAll("/+$", "");
    }
}
