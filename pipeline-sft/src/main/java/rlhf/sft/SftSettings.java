package rlhf.sft;

import java.util.Optional;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.data.PromptTemplate;
import rlhf.spark.TrainingSettings;

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
        // training: what the loss counts, and the keys every stage reads
        SftExamples.LossOn lossOn,
        TrainingSettings training) {

    /** Reads and checks every key of conf/sft.properties. */
    public static SftSettings from(JobConfig c) {
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
                TrainingSettings.from(c));
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
