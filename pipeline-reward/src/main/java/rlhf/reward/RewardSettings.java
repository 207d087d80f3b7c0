package rlhf.reward;

import java.util.Optional;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.data.DatasetSource;
import rlhf.data.PreferenceGroups;
import rlhf.spark.TrainingSettings;

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
        PreferenceGroups.Overlong overlong,
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
        // training: the ranking loss's centering term and off-prompt pairs, and the keys every stage reads
        double centerCoef,
        boolean offPromptPairs,
        TrainingSettings training) {

    /** Reads and checks every key of conf/reward.properties. */
    public static RewardSettings from(JobConfig c) {
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
                c.getEnum("data.overlong", PreferenceGroups.Overlong.class),
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
                c.requireIn("train.center_coef", 0, 1e6),
                c.getBoolean("train.off_prompt_pairs"),
                TrainingSettings.from(c));
        if (s.nEmbd % s.nHead != 0) {
            throw new ConfigException("config key 'model.n_embd' = " + s.nEmbd + " is not divisible by model.n_head = "
                    + s.nHead);
        }
        return s;
    }

    /** How the preference rows are read and prepared. */
    public PreferenceGroups.Options preferences() {
        return new PreferenceGroups.Options(config, contextLength, overlong, onBadRow, partitions);
    }

    /** Positions of a random model: model.n_positions, or the context length when 0. */
    public int randomPositions() {
        return nPositions > 0 ? nPositions : contextLength;
    }
}
