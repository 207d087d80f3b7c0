package rlhf.bestofn;

import java.io.Serializable;
import java.util.Optional;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.model.GenerationConfig;
import rlhf.rules.RewardSource;
import rlhf.rules.RuleReward;

/**
 * The best-of-n job's configuration, typed and checked once (keys and meanings:
 * conf/best-of-n.properties). Serializable: the executors get the numbers they need from it.
 */
public record BestOfNSettings(
        // data
        String promptsPath,
        int maxPromptTokens,
        int partitions,
        // models
        String policyPath,
        String rewardPath,
        // reward
        RewardSource rewardSource,
        boolean rewardNormalize,
        double missingEosPenalty,
        // generation
        int n,
        int maxNewTokens,
        float temperature,
        int topK,
        float topP,
        int genBatch,
        long seed,
        // evaluation and output
        String goldRule,
        String outputDir) implements Serializable {

    /** Reads and checks every key of conf/best-of-n.properties. */
    public static BestOfNSettings from(JobConfig c) {
        RewardSource reward = RewardSource.read(c);
        String gold = c.getString("eval.gold_rule");
        if (!gold.isEmpty()) {
            RuleReward.byName(gold);
        }
        return new BestOfNSettings(
                c.getOptional("data.prompts").orElseThrow(() -> new ConfigException("config key 'data.prompts' is "
                        + "empty: set it to the prompts (a .jsonl or .parquet file, a directory, or table:NAME)")),
                (int) c.requireIn("data.max_prompt_tokens", 0, 1 << 20),
                (int) c.requireIn("data.partitions", 0, 1 << 20),
                c.getOptional("model.policy").orElseThrow(() -> new ConfigException("config key 'model.policy' is "
                        + "empty: set it to the policy (an SFT checkpoint) whose samples are ranked")),
                c.getString("model.reward"),
                reward,
                c.getBoolean("reward.normalize"),
                c.requireIn("reward.missing_eos_penalty", 0, 1e12),
                (int) c.requireIn("gen.n", 1, BestOfNWorker.MAX_N),
                (int) c.requireIn("gen.max_new_tokens", 1, 1 << 20),
                (float) c.requireIn("gen.temperature", 1e-6, 100),
                (int) c.requireIn("gen.top_k", 0, 1 << 30),
                (float) c.requireIn("gen.top_p", 1e-6, 1),
                (int) c.requireIn("gen.batch", 1, 1 << 16),
                c.getLong("gen.seed"),
                gold,
                c.getPath("output.dir").replaceAll("/+$", ""));
    }

    /** eval.gold_rule, if set. */
    public Optional<String> gold() {
        return goldRule.isEmpty() ? Optional.empty() : Optional.of(goldRule);
    }

    /** The sampling of every response; {@code eosId} ends a response. */
    public GenerationConfig generation(int eosId) {
        return new GenerationConfig(maxNewTokens, temperature, topK, topP, eosId, seed);
    }
}
