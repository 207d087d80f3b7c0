package rlhf.spark;

import java.io.FileNotFoundException;
import java.io.IOException;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.model.GptConfig;
import rlhf.rules.RewardSource;
import rlhf.tokenizer.BpeTokenizer;

/**
 * The models a job samples responses with and scores them by (PPO, best-of-n), loaded and checked
 * against each other before any task runs, so that a wrong checkpoint fails in a second with the
 * key named instead of inside a task.
 */
public final class RolloutModels {

    private RolloutModels() {
    }

    /**
     * {@code cfg} with {@code data.max_prompt_tokens = 0} resolved, so that the default fits any
     * model: the positions left after {@code gen.max_new_tokens} in {@code model.policy} and, when
     * a reward model scores (reward.kind = model), in {@code model.reward} after the EOS it may
     * append too. A set value is kept (and checked later by {@link #policy}). Reads only the models'
     * config.json.
     *
     * @return {@code cfg}, changed in place
     */
    public static JobConfig resolvePromptTokens(JobConfig cfg, Configuration hconf) throws IOException {
        if (cfg.getInt("data.max_prompt_tokens") != 0 || cfg.getString("model.policy").isEmpty()) {
            return cfg;
        }
        int newTokens = cfg.getInt("gen.max_new_tokens");
        int policy = positions("model.policy", cfg.getPath("model.policy"), hconf);
        int room = policy - newTokens;
        String why = "model.policy's n_positions " + policy + " - gen.max_new_tokens";
        if (cfg.getEnum("reward.kind", RewardSource.Kind.class) != RewardSource.Kind.RULE
                && !cfg.getString("model.reward").isEmpty()) {
            int reward = positions("model.reward", cfg.getPath("model.reward"), hconf);
            if (reward - newTokens - 1 < room) {
                room = reward - newTokens - 1;
                why = "model.reward's n_positions " + reward + " - gen.max_new_tokens - 1 (EOS)";
            }
        }
        if (room < 1) {
            throw new ConfigException("config key 'gen.max_new_tokens' = " + newTokens + " leaves no room for a prompt: "
                    + why + " = " + room + "; lower it");
        }
        cfg.set("data.max_prompt_tokens", Integer.toString(room), "auto: " + why);
        return cfg;
    }

    /** n_positions of the checkpoint that config key {@code key} names; a missing one is named with its key. */
    private static int positions(String key, String checkpoint, Configuration hconf) throws IOException {
        Path dir = new Path(checkpoint);
        Path file = new Path(checkpoint.replaceAll("/+$", "") + "/" + Checkpoint.CONFIG);
        FileSystem fs = file.getFileSystem(hconf);
        if (!fs.exists(file)) {
            throw new FileNotFoundException(key + " = " + checkpoint + ": " + (fs.exists(dir) ? "the directory has no "
                    + Checkpoint.CONFIG + " (not a checkpoint)" : "checkpoint directory does not exist"));
        }
        return ModelConfigJson.read(fs, file).model().maxSeqLen();
    }

    /** A language model with its tokenizer: the policy responses are sampled from. */
    public record Policy(Checkpoint checkpoint, BpeTokenizer tokenizer) {
        public GptConfig config() {
            return checkpoint.config().model();
        }
    }

    /**
     * The SFT checkpoint at {@code path} (config key {@code key}): a language model (no score head)
     * with its tokenizer files, whose vocabulary fits the model, with room for a response after
     * prompts of {@code maxPromptTokens}.
     */
    public static Policy policy(String key, String path, int maxPromptTokens, Configuration hconf) throws IOException {
        Checkpoint c = Checkpoint.loadPretrained(path, hconf);
        if (c.tokenizer() == null) {
            throw new IllegalArgumentException(key + " " + path + " has no " + Checkpoint.VOCAB + "/" + Checkpoint.MERGES
                    + ": sampling needs the SFT model's tokenizer");
        }
        if (c.config().model().scoreHead()) {
            throw new IllegalArgumentException(key + " " + path + " has a score head: expected the SFT model (a "
                    + "language model), found a reward model");
        }
        BpeTokenizer tok = c.tokenizer().load(path);
        GptConfig g = c.config().model();
        if (tok.vocabSize() > g.vocabSize()) {
            throw new IllegalArgumentException("the tokenizer of " + path + " has " + tok.vocabSize()
                    + " tokens but the model's vocab_size is " + g.vocabSize());
        }
        if (maxPromptTokens >= g.maxSeqLen()) {
            throw new ConfigException("config key 'data.max_prompt_tokens' = " + maxPromptTokens + " leaves no room "
                    + "for a response in " + key + "'s n_positions = " + g.maxSeqLen() + "; lower it");
        }
        return new Policy(c, tok);
    }

    /**
     * The reward model at {@code path} (config key {@code key}): a score head that reads the
     * policy's vocabulary and {@code maxPromptTokens + maxNewTokens + 1} tokens (prompt, response,
     * and the EOS a reward model may append).
     */
    public static Checkpoint rewardModel(String key, String path, GptConfig policy, int maxPromptTokens,
            int maxNewTokens, Configuration hconf) throws IOException {
        Checkpoint c = Checkpoint.loadPretrained(path, hconf);
        requireScoreHead(c, key + " " + path);
        GptConfig rc = c.config().model();
        int need = maxPromptTokens + maxNewTokens + 1;
        if (rc.maxSeqLen() < need) {
            throw new ConfigException(key + " " + path + " has n_positions=" + rc.maxSeqLen() + " but scores up to "
                    + "data.max_prompt_tokens + gen.max_new_tokens + 1 (EOS) = " + need + " tokens; lower those keys");
        }
        if (rc.vocabSize() < policy.vocabSize()) {
            throw new IllegalArgumentException(key + " " + path + " has vocab_size " + rc.vocabSize()
                    + ", smaller than the policy's " + policy.vocabSize());
        }
        return c;
    }

    /** Fails naming {@code what} unless {@code c} has a score head. */
    public static void requireScoreHead(Checkpoint c, String what) {
        if (!c.config().model().scoreHead()) {
            throw new IllegalArgumentException(what + " has no score head (score.weight): expected a reward model "
                    + "checkpoint (GPT2ForSequenceClassification)");
        }
    }
}
