package rlhf.dpo;

import java.util.Optional;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.data.DatasetSource;
import rlhf.data.PreferenceGroups;
import rlhf.spark.TrainingSettings;

/** Every key of conf/dpo.properties, read and checked once. */
public record DpoSettings(
        JobConfig config,
        // data
        String trainPath,
        Optional<String> evalPath,
        DatasetSource.OnBadRow onBadRow,
        int contextLength,
        PreferenceGroups.Overlong overlong,
        int partitions,
        // the policy and the reference
        String policy,
        String reference,
        float dropout,
        // the loss, and the keys every stage reads
        PreferenceLoss.Kind loss,
        double beta,
        double labelSmoothing,
        double nllCoef,
        TrainingSettings training) {

    /** Reads and checks every key of conf/dpo.properties. */
    public static DpoSettings from(JobConfig c) {
        int fewShot = (int) c.requireIn("data.few_shot.n", 0, 1000);
        if (fewShot > 0 && c.getOptional("data.few_shot.path").isEmpty()) {
            throw new ConfigException("config key 'data.few_shot.n' = " + fewShot
                    + " needs data.few_shot.path (the dataset the few-shot examples come from)");
        }
        String policy = c.getOptional("model.init").orElseThrow(() -> new ConfigException(
                "config key 'model.init' is empty: set it to the policy DPO starts from (the SFT model, e.g. "
                        + "--set model.init=runs/sft/final, or a Hugging Face GPT-2 directory)"));
        PreferenceLoss.Kind kind = c.getEnum("dpo.loss", PreferenceLoss.Kind.class);
        double smoothing = c.requireIn("dpo.label_smoothing", 0, 0.499);
        if (kind == PreferenceLoss.Kind.IPO && smoothing != 0) {
            throw new ConfigException("config key 'dpo.label_smoothing' = " + smoothing
                    + " is a term of the sigmoid loss; IPO (dpo.loss=ipo) has none: set it to 0");
        }
        return new DpoSettings(c,
                c.getOptional("data.train").orElseThrow(() -> new ConfigException(
                        "config key 'data.train' is empty: set it to the training preferences (a .jsonl or .parquet "
                                + "file, a directory, or table:NAME), e.g. --set data.train=data/prefs_train.jsonl")),
                c.getOptional("data.eval"),
                c.getEnum("data.on_bad_row", DatasetSource.OnBadRow.class),
                (int) c.requireIn("data.context_length", 2, 1 << 20),
                c.getEnum("data.overlong", PreferenceGroups.Overlong.class),
                (int) c.requireIn("data.partitions", 0, 1 << 20),
                policy,
                c.getOptional("model.ref").orElse(policy),
                (float) c.requireIn("model.dropout", 0, 0.99),
                kind,
                c.requireIn("dpo.beta", 1e-6, 1e6),
                smoothing,
                c.requireIn("dpo.nll_coef", 0, 1e3),
                TrainingSettings.from(c));
    }

    /** How the preference rows are read and prepared: exactly as the reward job reads them. */
    public PreferenceGroups.Options preferences() {
        return new PreferenceGroups.Options(config, contextLength, overlong, onBadRow, partitions);
    }

    /** The loss of a pair. */
    public PreferenceLoss preferenceLoss() {
        return new PreferenceLoss(loss, beta, labelSmoothing);
    }
}
