package rlhf.reward;

import java.util.Optional;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.data.DatasetSource;

/** Every key of conf/reward.properties, read and checked once. */
public record RewardSettings(
        JobConfig config,
        // data
        String trainPath,
        Optional<String> evalPath,
        DatasetSource.OnBadRow onBadRow,
        String template,
        Optional<String> fewShotPath,
        int fewShotCount,
        int contextLength,
        Overlong overlong,
        int partitions,
        // model and tokenizer
        Optional<String> modelInit,
        Optional<Float> scoreInitStd,
        int nLayer,
        int nHead,
        int nEmbd,
        int nPositions,
        Optional<Float> dropout,
        Optional<String> tokenizerPath,
        int tokenizerVocabSize,
        // training
        int globalBatch,
        int microBatch,
        int steps,
        int epochs,
        long seed,
        int stopAtStep,
        double centerCoef,
        float lr,
        float minLr,
        int warmupSteps,
        Schedule schedule,
        float weightDecay,
        float beta1,
        float beta2,
        float eps,
        float gradClip,
        // evaluation, checkpoints, output
        int evalEvery,
        int evalBatches,
        int checkpointEvery,
        int keepLast,
        String outputDir,
        String metricsPath) {

    /** Learning-rate schedule after warmup. */
    public enum Schedule { COSINE, CONSTANT }

    /** A prompt group with an answer longer than the context. */
    public enum Overlong { DROP, FAIL }

    /** Reads and checks every key of conf/reward.properties. */
    public static RewardSettings from(JobConfig c) {
        String out = c.getPath("output.dir");
        int fewShot = (int) c.requireIn("data.few_shot.n", 0, 1000);
        if (fewShot > 0 && c.getOptional("data.few_shot.path").isEmpty()) {
            throw new ConfigException("config key 'data.few_shot.n' = " + fewShot
                    + " needs data.few_shot.path (the dataset the few-shot examples come from)");
        }
        RewardSettings s = new RewardSettings(c,
                c.getOptional("data.train").orElseThrow(() -> new ConfigException(
                        "config key 'data.train' is empty: set it to the training preferences (a .jsonl or .parquet "
                                + "file, a directory, or table:NAME), e.g. --set data.train=data/prefs_train.jsonl")),
                c.getOptional("data.eval"),
                c.getEnum("data.on_bad_row", DatasetSource.OnBadRow.class),
                c.getString("data.template"),
                c.getOptional("data.few_shot.path"),
                fewShot,
                (int) c.requireIn("data.context_length", 2, 1 << 20),
                c.getEnum("data.overlong", Overlong.class),
                (int) c.requireIn("data.partitions", 0, 1 << 20),
                c.getOptional("model.init"),
                c.getOptional("model.score_init_std").map(v -> (float) c.requireIn("model.score_init_std", 0, 100)),
                (int) c.requireIn("model.n_layer", 1, 1000),
                (int) c.requireIn("model.n_head", 1, 1000),
                (int) c.requireIn("model.n_embd", 1, 1 << 16),
                (int) c.requireIn("model.n_positions", 0, 1 << 20),
                c.getOptional("model.dropout").map(v -> (float) c.requireIn("model.dropout", 0, 0.99)),
                c.getOptional("tokenizer.path"),
                (int) c.requireIn("tokenizer.vocab_size", 257, 1 << 20),
                (int) c.requireIn("train.global_batch", 1, 1 << 24),
                (int) c.requireIn("train.micro_batch", 1, 1 << 16),
                (int) c.requireIn("train.steps", 0, Integer.MAX_VALUE),
                (int) c.requireIn("train.epochs", 1, 1 << 20),
                c.getLong("train.seed"),
                (int) c.requireIn("train.stop_at_step", 0, Integer.MAX_VALUE),
                c.requireIn("train.center_coef", 0, 1e6),
                (float) c.requireIn("optim.lr", 0, 10),
                (float) c.requireIn("optim.min_lr", 0, 10),
                (int) c.requireIn("optim.warmup_steps", 0, Integer.MAX_VALUE),
                c.getEnum("optim.schedule", Schedule.class),
                (float) c.requireIn("optim.weight_decay", 0, 10),
                (float) c.requireIn("optim.beta1", 0, 0.999999),
                (float) c.requireIn("optim.beta2", 0, 0.999999999),
                (float) c.requirePositive("optim.eps"),
                (float) c.requireIn("optim.grad_clip", 0, 1e9),
                (int) c.requireIn("eval.every", 0, Integer.MAX_VALUE),
                (int) c.requireIn("eval.batches", 0, Integer.MAX_VALUE),
                (int) c.requireIn("checkpoint.every", 0, Integer.MAX_VALUE),
                (int) c.requireIn("checkpoint.keep_last", 0, 1 << 20),
                out,
                c.getOptional("metrics.path").orElse(out.replaceAll("/+$", "") + "/metrics.jsonl"));
        if (s.minLr > s.lr) {
            throw new ConfigException("config key 'optim.min_lr' = " + s.minLr + " is above optim.lr = " + s.lr);
        }
        if (s.nEmbd % s.nHead != 0) {
            throw new ConfigException("config key 'model.n_embd' = " + s.nEmbd + " is not divisible by model.n_head = "
                    + s.nHead);
        }
        return s;
    }

    /** Positions of a random model: model.n_positions, or the context length when 0. */
    public int randomPositions() {
        return nPositions > 0 ? nPositions : contextLength;
    }
}
