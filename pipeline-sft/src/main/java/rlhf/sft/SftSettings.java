package rlhf.sft;

import java.util.Optional;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.data.PromptTemplate;

/**
 * The SFT job's configuration, typed and checked once (keys and meanings: conf/sft.properties).
 * Range errors name the key, the value and where it came from ({@link JobConfig}'s messages).
 */
public record SftSettings(
        JobConfig config,
        // data (template and few-shot prefix: read by rlhf.data from the config)
        String trainPath,
        Optional<String> evalPath,
        int contextLength,
        SftExamples.Overlong overlong,
        boolean packing,
        int partitions,
        // model and tokenizer
        Optional<String> modelInit,
        int nLayer,
        int nHead,
        int nEmbd,
        int nPositions,
        Optional<Float> dropout,
        Optional<String> tokenizerPath,
        int tokenizerVocabSize,
        // training
        SftExamples.LossOn lossOn,
        int globalBatch,
        int microBatch,
        int steps,
        int epochs,
        long seed,
        int stopAtStep,
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

    /** Reads and checks every key of conf/sft.properties. */
    public static SftSettings from(JobConfig c) {
        String out = c.getPath("output.dir");
        Optional<String> dropout = c.getOptional("model.dropout");
        int context = (int) c.requireIn("data.context_length", 2, 1 << 20);
        int fewShot = (int) c.requireIn("data.few_shot.n", 0, 1000);
        try {
            PromptTemplate.of(c.getString("data.template")); // a bad template fails here, before Spark starts
        } catch (IllegalArgumentException e) {
            throw new ConfigException("config key 'data.template' (from " + c.source("data.template") + "): "
                    + e.getMessage(), e);
        }
        if (fewShot > 0 && c.getOptional("data.few_shot.path").isEmpty()) {
            throw new ConfigException("config key 'data.few_shot.n' = " + fewShot
                    + " needs data.few_shot.path (the dataset the few-shot examples come from)");
        }
        SftSettings s = new SftSettings(c,
                requireData(c),
                c.getOptional("data.eval"),
                context,
                c.getEnum("data.overlong", SftExamples.Overlong.class),
                c.getBoolean("data.packing"),
                (int) c.requireIn("data.partitions", 0, 1 << 20),
                c.getOptional("model.init"),
                (int) c.requireIn("model.n_layer", 1, 1000),
                (int) c.requireIn("model.n_head", 1, 1000),
                (int) c.requireIn("model.n_embd", 1, 1 << 16),
                (int) c.requireIn("model.n_positions", 0, 1 << 20),
                dropout.map(v -> (float) c.requireIn("model.dropout", 0, 0.99)),
                c.getOptional("tokenizer.path"),
                (int) c.requireIn("tokenizer.vocab_size", 257, 1 << 20),
                c.getEnum("train.loss_on", SftExamples.LossOn.class),
                (int) c.requireIn("train.global_batch", 1, 1 << 24),
                (int) c.requireIn("train.micro_batch", 1, 1 << 16),
                (int) c.requireIn("train.steps", 0, Integer.MAX_VALUE),
                (int) c.requireIn("train.epochs", 1, 1 << 20),
                c.getLong("train.seed"),
                (int) c.requireIn("train.stop_at_step", 0, Integer.MAX_VALUE),
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

    private static String requireData(JobConfig c) {
        return c.getOptional("data.train").orElseThrow(() -> new ConfigException(
                "config key 'data.train' is empty: set it to the training data (a .jsonl or .parquet file, a "
                        + "directory, or table:NAME), e.g. --set data.train=data/sft_train.jsonl"));
    }

    /** Positions of a random model: model.n_positions, or the context length when 0. */
    public int randomPositions() {
        return nPositions > 0 ? nPositions : contextLength;
    }
}
