package rlhf.spark;

import java.io.IOException;
import java.util.function.Function;

import org.apache.hadoop.conf.Configuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.node.ObjectNode;

import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.io.RunCheckpoints;
import rlhf.tokenizer.BpeTokenizer;

/**
 * The model, tokenizer and (when resuming) training state a training stage starts from: the
 * newest complete checkpoint of the run (--resume), or a model the job made ({@link ModelStart}).
 *
 * @param training the trainer state and AdamW moments of the checkpoint resumed from; null for a fresh run
 * @param dir      the checkpoint resumed from; null for a fresh run
 */
public record StageStart(ModelConfigJson config, float[] params, BpeTokenizer tokenizer,
        Checkpoint.Tokenizer tokenizerFiles, Checkpoint.TrainingState training, String dir) {

    private static final Logger LOG = LoggerFactory.getLogger(StageStart.class);

    public boolean resumed() {
        return training != null;
    }

    /** trainer_state.json of the checkpoint resumed from. */
    public ObjectNode trainerState() {
        return training.trainerState();
    }

    public StageStart withConfig(ModelConfigJson c) {
        return new StageStart(c, params, tokenizer, tokenizerFiles, training, dir);
    }

    /**
     * The newest complete checkpoint of the run, which must hold the tokenizer, the trainer state
     * and the optimizer moments.
     */
    public static StageStart resume(String job, RunCheckpoints checkpoints, Configuration hconf) throws IOException {
        return resume(job, checkpoints, hconf, config -> null);
    }

    /**
     * As {@link #resume(String, RunCheckpoints, Configuration)}, for a job whose model needs more.
     *
     * @param missingPart what the job's model needs beyond that (e.g. "score head") when
     *                    {@code config} lacks it, or null
     */
    public static StageStart resume(String job, RunCheckpoints checkpoints, Configuration hconf,
            Function<ModelConfigJson, String> missingPart) throws IOException {
        String dir = checkpoints.newestComplete().orElseThrow(() -> new IllegalArgumentException(
                "--resume: no complete checkpoint-<step> in output.dir " + checkpoints.dirFor(0).replaceAll("/checkpoint-0$", "")
                        + "; run without --resume to start, or set output.dir to the run to continue"));
        Checkpoint c = Checkpoint.load(dir, true, hconf);
        String jobMissing = missingPart.apply(c.config());
        if (c.training() == null || c.training().adamM() == null || c.tokenizer() == null || jobMissing != null) {
            throw new IllegalArgumentException("--resume: checkpoint " + dir + " has no "
                    + (c.tokenizer() == null ? "tokenizer files" : jobMissing != null ? jobMissing
                    : "trainer state and optimizer moments") + "; it cannot be resumed");
        }
        LOG.info("{}: resuming from {}", job, dir);
        return new StageStart(c.config(), c.params(), c.tokenizer().load(dir), c.tokenizer(), c.training(), dir);
    }

    /** A run that is not resumed must not mix its checkpoints with those of an earlier run. */
    public static void refuseToOverwrite(RunCheckpoints checkpoints, String outputDir) throws IOException {
        if (!checkpoints.completeSteps().isEmpty()) {
            throw new IllegalArgumentException("output.dir " + outputDir + " already holds checkpoints "
                    + checkpoints.completeSteps() + ": continue that run with --resume, or set another output.dir");
        }
    }

    /** A fresh start from a model the job made; the tokenizer's tokens must fit the model's vocabulary. */
    public static StageStart fresh(ModelConfigJson config, float[] params, BpeTokenizer tokenizer) throws IOException {
        if (tokenizer.vocabSize() > config.model().vocabSize()) {
            throw new IllegalArgumentException("the tokenizer has " + tokenizer.vocabSize() + " tokens but the model's "
                    + "vocabulary has " + config.model().vocabSize() + " (vocab_size in config.json)");
        }
        return new StageStart(config, params, tokenizer, Checkpoint.Tokenizer.of(tokenizer), null, null);
    }
}
