package rlhf.ppo;

import java.io.Serializable;
import java.util.Optional;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.optim.AdamWSettings;
import rlhf.spark.TrainerConfig;
import rlhf.rules.RewardSource;
import rlhf.rules.RuleReward;

/**
 * The configuration of a PPO, GRPO or RLOO job, typed and checked once (keys and meanings:
 * conf/ppo.properties, conf/grpo.properties, conf/rloo.properties; the method's own keys carry
 * its prefix, {@link Algorithm#key}). Serializable without its {@link JobConfig}: the executors
 * get the numbers they need from it. Optional paths are "" when unset ({@link #ptx()},
 * {@link #reward()}, {@link #critic()}). The critic's numbers of a method without one are fixed
 * (γ = λ = 1, no value loss) and never read.
 */
public record PpoSettings(
        Algorithm algorithm,
        // data
        String promptsPath,
        int maxPromptTokens,
        int partitions,
        String ptxPath,
        // models
        String policyPath,
        String rewardPath,
        String criticPath,
        // reward
        RewardSource rewardSource,
        boolean rewardNormalize,
        double rewardClip,
        double missingEosPenalty,
        // generation
        int maxNewTokens,
        float temperature,
        int topK,
        float topP,
        int genBatch,
        // PPO
        int iterations,
        int rollouts,
        int samplesPerPrompt,
        int epochs,
        int minibatches,
        int microBatch,
        double gamma,
        double lam,
        double clipRange,
        double clipRangeValue,
        double vfCoef,
        double entropyCoef,
        boolean whitenAdvantages,
        boolean scaleRewards,
        Aggregation aggregation,
        KlPlacement klPlacement,
        KlPenalty.Estimator klEstimator,
        double klCoef,
        boolean klAdaptive,
        double klTarget,
        double klHorizon,
        double targetApproxKl,
        double ratioLimit,
        int criticWarmupIterations,
        double ptxCoef,
        int ptxBatch,
        int ptxMaxTokens,
        long seed,
        int stopAtIteration,
        // optimizers
        float policyLr,
        float criticLr,
        Schedule schedule,
        AdamWSettings adamW,
        TrainerConfig.ExchangeMode exchange,
        int exchangeShards,
        // output
        int checkpointEvery,
        int keepLast,
        String outputDir,
        String metricsPath,
        int samplesEvery,
        int samplesCount,
        String bestOfNReport,
        String goldRule,
        int watchIterations) implements Serializable {

    /** Learning-rate schedule of both optimizers. */
    public enum Schedule { CONSTANT, LINEAR }

    /**
     * How the per-token policy losses of a minibatch become one number (each response's tokens
     * weighted, then divided by the minibatch's total of the weights' denominator):
     * TOKEN: the mean over all response tokens (PPO, DAPO); SEQUENCE: the mean over responses of
     * each response's token mean (the GRPO paper); CONSTANT: the sum over tokens divided by
     * responses × gen.max_new_tokens (Dr. GRPO: no length bias).
     */
    public enum Aggregation { TOKEN, SEQUENCE, CONSTANT }

    /**
     * Where the KL to the reference enters: REWARD, as -β·KL in each sequence's reward (PPO, RLOO);
     * LOSS, as β·k3 per token added to the policy loss (GRPO).
     */
    public enum KlPlacement { REWARD, LOSS }

    /** Reads and checks every key of the method's defaults file (conf/ppo.properties, conf/grpo.properties, ...). */
    public static PpoSettings from(Algorithm a, JobConfig c) {
        String out = c.getPath("output.dir");
        boolean critic = a.hasCritic();
        RewardSource reward = RewardSource.read(c);
        double rewardClip = c.requireIn("reward.clip", 0, 1e12);
        PpoSettings s = new PpoSettings(
                a,
                c.getOptional("data.prompts").orElseThrow(() -> new ConfigException("config key 'data.prompts' is "
                        + "empty: set it to the prompts (a .jsonl or .parquet file, a directory, or table:NAME)")),
                (int) c.requireIn("data.max_prompt_tokens", 0, 1 << 20),
                (int) c.requireIn("data.partitions", 0, 1 << 20),
                c.getString("data.ptx"),
                c.getOptional("model.policy").orElseThrow(() -> new ConfigException("config key 'model.policy' is "
                        + "empty: set it to the SFT checkpoint (the reference, and where the policy starts)")),
                c.getString("model.reward"),
                critic ? c.getString("model.critic") : "",
                reward,
                c.getBoolean("reward.normalize"),
                rewardClip == 0 ? Double.POSITIVE_INFINITY : rewardClip,
                c.requireIn("reward.missing_eos_penalty", 0, 1e12),
                (int) c.requireIn("gen.max_new_tokens", 1, 1 << 20),
                (float) c.requireIn("gen.temperature", 1e-6, 100),
                (int) c.requireIn("gen.top_k", 0, 1 << 30),
                (float) c.requireIn("gen.top_p", 1e-6, 1),
                (int) c.requireIn("gen.batch", 1, 1 << 16),
                (int) c.requireIn(a.key("iterations"), 1, Integer.MAX_VALUE),
                (int) c.requireIn(a.key("rollouts"), 1, 1 << 24),
                (int) c.requireIn(a.key("samples_per_prompt"), critic ? 1 : 2, 1 << 16),
                (int) c.requireIn(a.key("epochs"), 1, 1 << 16),
                (int) c.requireIn(a.key("minibatches"), 1, 1 << 24),
                (int) c.requireIn(a.key("micro_batch"), 1, 1 << 16),
                critic ? c.requireIn("ppo.gamma", 0, 1) : 1,
                critic ? c.requireIn("ppo.lam", 0, 1) : 1,
                c.requireIn(a.key("cliprange"), 1e-9, 1e9),
                critic ? c.requireIn("ppo.cliprange_value", 1e-9, 1e12) : Double.POSITIVE_INFINITY,
                critic ? c.requireIn("ppo.vf_coef", 0, 1e9) : 0,
                c.requireIn(a.key("entropy_coef"), 0, 1e9),
                c.getBoolean(a.key("whiten_advantages")),
                a == Algorithm.GRPO && c.getBoolean("grpo.scale_rewards"),
                critic ? Aggregation.TOKEN : c.getEnum(a.key("loss_aggregation"), Aggregation.class),
                critic ? KlPlacement.REWARD : c.getEnum(a.key("kl_placement"), KlPlacement.class),
                c.getEnum(a.key("kl_estimator"), KlPenalty.Estimator.class),
                c.requireIn(a.key("kl_coef"), 0, 1e9),
                c.getBoolean(a.key("kl_adaptive")),
                c.requireIn(a.key("kl_target"), 1e-12, 1e12),
                c.requireIn(a.key("kl_horizon"), 1e-12, 1e15),
                c.requireIn(a.key("target_approx_kl"), 0, 1e12),
                c.requireIn(a.key("ratio_limit"), 0, 1e12),
                critic ? (int) c.requireIn("ppo.critic_warmup_iterations", 0, Integer.MAX_VALUE) : 0,
                c.requireIn(a.key("ptx_coef"), 0, 1e9),
                (int) c.requireIn(a.key("ptx_batch"), 1, 1 << 24),
                (int) c.requireIn(a.key("ptx_max_tokens"), 2, 1 << 20),
                c.getLong(a.key("seed")),
                (int) c.requireIn(a.key("stop_at_iteration"), 0, Integer.MAX_VALUE),
                (float) c.requireIn("optim.policy_lr", 0, 10),
                critic ? (float) c.requireIn("optim.critic_lr", 0, 10) : 0f,
                c.getEnum("optim.schedule", Schedule.class),
                AdamWSettings.from(c),
                c.getEnum(a.key("exchange"), TrainerConfig.ExchangeMode.class),
                (int) c.requireIn(a.key("exchange_shards"), 0, 1 << 16),
                (int) c.requireIn("checkpoint.every", 0, Integer.MAX_VALUE),
                (int) c.requireIn("checkpoint.keep_last", 0, 1 << 20),
                out,
                c.getOptional("metrics.path").orElse(out.replaceAll("/+$", "") + "/metrics.jsonl"),
                (int) c.requireIn("samples.every", 0, Integer.MAX_VALUE),
                (int) c.requireIn("samples.count", 0, 1 << 20),
                c.getString("eval.best_of_n_report"),
                c.getString("eval.gold_rule"),
                (int) c.requireIn("eval.watch_iterations", 0, 1 << 20));
        s.gold().ifPresent(RuleReward::byName); // fails now, on the driver, with the class named
        if (s.rollouts % s.samplesPerPrompt != 0) {
            throw new ConfigException("config key '" + a.key("rollouts") + "' = " + s.rollouts + " is not a multiple of "
                    + a.key("samples_per_prompt") + " = " + s.samplesPerPrompt + ": the rollouts come in whole groups of "
                    + s.samplesPerPrompt + " samples of one prompt");
        }
        if (s.minibatches > s.rollouts) {
            throw new ConfigException("config key '" + a.key("minibatches") + "' = " + s.minibatches + " exceeds "
                    + a.key("rollouts") + " = " + s.rollouts + ": every minibatch needs at least one rollout");
        }
        if (s.ptxCoef > 0 && s.ptxPath.isEmpty()) {
            throw new ConfigException("config key '" + a.key("ptx_coef") + "' = " + s.ptxCoef + " needs data.ptx (the "
                    + "demonstrations whose SFT loss is mixed in)");
        }
        if (s.klPlacement == KlPlacement.LOSS && s.klEstimator != KlPenalty.Estimator.K3) {
            throw new ConfigException("config key '" + a.key("kl_estimator") + "' = k1 with " + a.key("kl_placement")
                    + " = loss: the gradient of k1 is 0 in expectation, so it cannot be a loss term; use k3 (or put "
                    + "the KL in the reward)");
        }
        return s;
    }

    /** data.ptx, if set. */
    public Optional<String> ptx() {
        return ptxPath.isEmpty() ? Optional.empty() : Optional.of(ptxPath);
    }

    /** model.reward, if set. */
    public Optional<String> reward() {
        return rewardPath.isEmpty() ? Optional.empty() : Optional.of(rewardPath);
    }

    /** eval.gold_rule, if set. */
    public Optional<String> gold() {
        return goldRule.isEmpty() ? Optional.empty() : Optional.of(goldRule);
    }

    /** eval.best_of_n_report, if set. */
    public Optional<String> bestOfN() {
        return bestOfNReport.isEmpty() ? Optional.empty() : Optional.of(bestOfNReport);
    }

    /** model.critic, if set. */
    public Optional<String> critic() {
        return criticPath.isEmpty() ? Optional.empty() : Optional.of(criticPath);
    }

    /** The KL controller at the start of a run. */
    public KlController initialKlController() {
        return klAdaptive ? KlController.adaptive(klCoef, klTarget, klHorizon) : KlController.fixed(klCoef);
    }

    /**
     * The learning rate of an optimizer update after {@code done} updates of that model: constant, or
     * decayed linearly to 0 at the last planned update.
     */
    public float lr(float base, long done) {
        if (schedule == Schedule.CONSTANT) {
            return base;
        }
        double planned = (double) iterations * epochs * minibatches;
        return (float) (base * Math.max(0, 1 - done / planned));
    }

    /** Rollouts of minibatch m of an epoch: positions [m·R/M, (m+1)·R/M) of the epoch's order. */
    public long minibatchStart(int m) {
        return (long) m * rollouts / minibatches;
    }

    /** The job's name in logs and Spark's job descriptions: "ppo", "grpo", "rloo". */
    public String job() {
        return algorithm.job();
    }

    /** Whether a critic is trained (PPO) or advantages come from the group of samples of a prompt. */
    public boolean hasCritic() {
        return algorithm.hasCritic();
    }

    /** Iteration index (0-based) of the epochs' shuffle: distinct for every (iteration, epoch). */
    public long epochKey(int iteration, int epoch) {
        return (long) iteration * epochs + epoch;
    }
}
