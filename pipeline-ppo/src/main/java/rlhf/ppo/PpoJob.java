package rlhf.ppo;

import java.io.IOException;
import java.io.Writer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.cli.Cli;
import rlhf.config.Args;
import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.data.DatasetSource;
import rlhf.data.Demonstration;
import rlhf.data.Examples;
import rlhf.data.PromptTemplate;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.io.RewardScale;
import rlhf.io.RunCheckpoints;
import rlhf.io.Safetensors;
import rlhf.io.TextFiles;
import rlhf.optim.OptimizerState;
import rlhf.metrics.BestOfNFrontier;
import rlhf.metrics.ConsoleProgress;
import rlhf.metrics.MetricsLog;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.spark.IndexedData;
import rlhf.spark.NonFiniteLossException;
import rlhf.spark.PromptSet;
import rlhf.spark.RolloutModels;
import rlhf.spark.TrainerState;
import rlhf.rules.RewardSource;
import rlhf.rules.RuleReward;
import rlhf.tokenizer.BpeTokenizer;

/**
 * PPO: {@code bin/rlhf ppo --config FILE [--set k=v ...] [--resume]}, or
 * {@code spark-submit --class rlhf.ppo.PpoJob rlhf-pipeline-ppo.jar ...}. Keys: conf/ppo.properties.
 *
 * <p>The recipe ({@link #run}): load the configuration; load the SFT model (reference, and the
 * policy's start), the reward model (or take the rule), the critic's start; tokenize and cache the
 * prompts (and PPO-ptx demonstrations) on the executors; iterate {@link PpoTrainer#iterate};
 * log, sample and checkpoint as it goes; save the final policy as a GPT-2 checkpoint.
 *
 * <p>A checkpoint is two directories: {@code checkpoint-<it>} (the policy, its AdamW moments and
 * trainer_state.json: iteration, KL controller, both AdamW steps, the seed) and
 * {@code critic/checkpoint-<it>} (the critic and its moments), the critic written first and its
 * older checkpoints pruned only after the policy's is written, so a complete policy checkpoint
 * always has its critic, wherever the driver dies. Every random draw derives from (seed,
 * iteration, rollout id): a resumed run ends with exactly the weights of an uninterrupted one.
 *
 * <p>The same recipe runs GRPO and RLOO ({@link GrpoJob}, {@link RlooJob}: {@link Algorithm}
 * chooses the defaults file and key prefix); without a critic there is no critic to start, and a
 * checkpoint is the policy's directory alone, its trainer_state.json naming the method.
 */
public final class PpoJob {

    private static final Logger LOG = LoggerFactory.getLogger(PpoJob.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private PpoJob() {
    }

    public static void main(String[] argv) {
        main(Algorithm.PPO, "PPO of an SFT policy against a reward model or a rule", argv);
    }

    /** The main of the job of {@code method} (PPO, GRPO, RLOO): the same recipe, its own defaults file. */
    static void main(Algorithm method, String description, String[] argv) {
        Cli.job(method.job(), Args.command(method.job(), description), argv, c -> PpoSettings.from(method, c),
                (args, settings, cfg, spark) -> System.err.println(run(spark, cfg, method, args.resume(), null)
                        .summary()));
    }

    /**
     * What a run did.
     *
     * @param job       "ppo", "grpo" or "rloo"
     * @param critic    null without one
     * @param iteration iterations done (all, or ppo.stop_at_iteration)
     * @param history   metrics of each iteration this invocation ran
     * @param finalDir  the final policy, or null when the run stopped early
     */
    public record Result(String job, float[] policy, float[] critic, int iteration, int iterations,
            List<Map<String, Double>> history, String finalDir) {

        public String summary() {
            StringBuilder sb = new StringBuilder(job + ": " + iteration + "/" + iterations + " iterations");
            if (!history.isEmpty()) {
                Map<String, Double> a = history.get(0);
                Map<String, Double> b = history.get(history.size() - 1);
                sb.append(String.format(java.util.Locale.ROOT, ", score %.4f -> %.4f, KL %.4f -> %.4f",
                        a.get("score_mean"), b.get("score_mean"), a.get("kl"), b.get("kl")));
                if (b.containsKey(BON_SCORE_AT_KL)) {
                    sb.append(String.format(java.util.Locale.ROOT, " (best-of-n of the start policy: %.4f at that KL)",
                            b.get(BON_SCORE_AT_KL)));
                }
            }
            sb.append(finalDir != null ? ", policy saved to " + finalDir : ", stopped early (continue with --resume)");
            return sb.toString();
        }
    }

    /** The models, data and trainer of a run, ready to iterate (tests use it directly). */
    static final class Setup implements AutoCloseable {
        final PpoSettings s;
        final PpoTrainer trainer;
        final IndexedData<PromptSet.Tokenized> prompts;
        final IndexedData<PpoWorker.PtxExample> ptx;
        final ModelConfigJson policyConfig;
        /** Null without a critic. */
        final ModelConfigJson criticConfig;
        final Checkpoint.Tokenizer tokenizerFiles;
        /** The start policy's best-of-n frontier (eval.best_of_n_report), or null. */
        final BestOfNFrontier frontier;

        Setup(PpoSettings s, PpoTrainer trainer, IndexedData<PromptSet.Tokenized> prompts,
                IndexedData<PpoWorker.PtxExample> ptx, ModelConfigJson policyConfig, ModelConfigJson criticConfig,
                Checkpoint.Tokenizer tokenizerFiles, BestOfNFrontier frontier) {
            this.s = s;
            this.trainer = trainer;
            this.prompts = prompts;
            this.ptx = ptx;
            this.policyConfig = policyConfig;
            this.criticConfig = criticConfig;
            this.tokenizerFiles = tokenizerFiles;
            this.frontier = frontier;
        }

        @Override
        public void close() {
            trainer.close();
            prompts.unpersist();
            if (ptx != null) {
                ptx.unpersist();
            }
        }
    }

    /**
     * Loads the models and data of a fresh run.
     *
     * @param rule a serializable rule reward used instead of reward.kind (tests); null for the config's
     */
    static Setup setup(SparkSession spark, JobConfig cfg, Algorithm method, RuleReward rule) throws IOException {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hconf = sc.hadoopConfiguration();
        PpoSettings s = PpoSettings.from(method, RolloutModels.resolvePromptTokens(cfg, hconf));
        BestOfNFrontier frontier = null;
        if (s.bestOfN().isPresent()) {
            try {
                frontier = BestOfNFrontier.read(s.bestOfNReport(), hconf);
            } catch (IOException | IllegalArgumentException e) {
                throw new IllegalArgumentException("config key 'eval.best_of_n_report' = " + s.bestOfNReport() + ": "
                        + e.getMessage(), e);
            }
        }

        RolloutModels.Policy policy = RolloutModels.policy("model.policy", s.policyPath(), s.maxPromptTokens(), hconf);
        Checkpoint sft = policy.checkpoint();
        BpeTokenizer tok = policy.tokenizer();
        GptConfig pc = policy.config();
        int maxInputs = Math.min(pc.maxSeqLen(), s.maxPromptTokens() + s.maxNewTokens() - 1);

        RewardSource rewardSource = rule != null ? RewardSource.ofRule(rule) : s.rewardSource();
        Checkpoint rewardModel = rewardSource.needsModel()
                ? RolloutModels.rewardModel("model.reward", s.rewardPath(), pc, s.maxPromptTokens(), s.maxNewTokens(), hconf)
                : null;
        Checkpoint criticStart = s.hasCritic() ? criticStart(s, sft, rewardModel, maxInputs, hconf) : null;
        ModelConfigJson criticConfig = criticStart == null ? null : criticStart.config();
        float[] critic = criticStart == null ? null : criticStart.params();
        PpoWorker.Spec spec = new PpoWorker.Spec(s, sft.config(), criticConfig,
                rewardModel == null ? null : rewardModel.config());

        PromptTemplate template = DatasetSource.template(cfg, spark);
        IndexedData<PromptSet.Tokenized> prompts = PromptSet.load(sc, DatasetSource.fromConfig(s.promptsPath(), cfg)
                .prompts(spark, template), tok, s.maxPromptTokens(), s.partitions(), "data.prompts " + s.promptsPath());
        PromptSet.requireReferences(prompts, rewardSource, "data.prompts " + s.promptsPath());
        IndexedData<PpoWorker.PtxExample> ptx = null;
        if (s.ptx().isPresent() && s.ptxCoef() > 0) {
            if (s.ptxMaxTokens() - 1 > pc.maxSeqLen()) {
                throw new ConfigException("config key '" + s.algorithm().key("ptx_max_tokens") + "' = " + s.ptxMaxTokens() + " exceeds "
                        + "model.policy's n_positions + 1 = " + (pc.maxSeqLen() + 1) + "; lower it");
            }
            ptx = ptx(sc, DatasetSource.fromConfig(s.ptxPath(), cfg).demonstrations(spark, template), tok, s);
        }
        PpoTrainer trainer = new PpoTrainer(sc, spec, prompts, ptx, sft.params().clone(),
                rewardModel == null ? null : rewardModel.params(), tok, rewardSource, sft.params().clone(), critic);
        return new Setup(s, trainer, prompts, ptx, sft.config(), criticConfig, sft.tokenizer(), frontier);
    }

    /**
     * Where PPO's critic starts (its config and a copy of its parameters): model.critic, else the
     * reward model put on the scale its rewards are read on, else the SFT model's trunk with a zero
     * value head; checked to read the policy's inputs.
     */
    private static Checkpoint criticStart(PpoSettings s, Checkpoint sft, Checkpoint rewardModel, int maxInputs,
            Configuration hconf) throws IOException {
        GptConfig pc = sft.config().model();
        ModelConfigJson criticConfig;
        float[] critic;
        String criticFrom = s.critic().orElse(s.reward().orElse(null));
        if (criticFrom != null) {
            Checkpoint c = criticFrom.equals(s.rewardPath()) && rewardModel != null ? rewardModel
                    : Checkpoint.loadPretrained(criticFrom, hconf);
            RolloutModels.requireScoreHead(c, "critic start " + criticFrom);
            criticConfig = c.config();
            critic = c.params().clone();
            RewardScale scale = RewardScale.of(c.config(), s.rewardNormalize());
            if (c == rewardModel && !scale.isRaw()) {
                // the rewards are read on the reward model's recorded scale: start the critic's
                // values on it too, not std (often several) and mean away from the returns
                scale.applyToScoreHead(criticConfig.model(), critic);
                criticConfig = criticConfig.withExtra(RewardScale.MEAN_KEY, 0.0).withExtra(RewardScale.STD_KEY, 1.0);
            }
        } else {
            criticConfig = sft.config().withModel(pc.withScoreHead(true));
            critic = new float[ParamLayout.of(criticConfig.model()).size()];
            System.arraycopy(sft.params(), 0, critic, 0, sft.params().length); // score.weight (last) stays 0
        }
        if (criticConfig.model().maxSeqLen() < maxInputs || criticConfig.model().vocabSize() < pc.vocabSize()) {
            throw new IllegalArgumentException("the critic (" + criticFrom + ") has n_positions="
                    + criticConfig.model().maxSeqLen() + ", vocab_size=" + criticConfig.model().vocabSize()
                    + "; it must read " + maxInputs + " tokens of the policy's vocabulary of " + pc.vocabSize());
        }
        return new Checkpoint(criticConfig, critic, null, null);
    }

    static IndexedData<PpoWorker.PtxExample> ptx(JavaSparkContext sc, Examples<Demonstration> rows, BpeTokenizer tok,
            PpoSettings s) {
        Broadcast<BpeTokenizer> bt = sc.broadcast(tok);
        int max = s.ptxMaxTokens();
        JavaRDD<PpoWorker.PtxExample> t = rows.rdd().map(d -> {
            int[] p = bt.value().encode(d.prompt());
            int[] r = bt.value().encode(d.response());
            int[] all = new int[p.length + r.length + 1];
            System.arraycopy(p, 0, all, 0, p.length);
            System.arraycopy(r, 0, all, p.length, r.length);
            all[all.length - 1] = bt.value().eosId();
            return new PpoWorker.PtxExample(all, p.length);
        }).filter(e -> e.promptLength() >= 1 && e.tokens().length <= max);
        IndexedData<PpoWorker.PtxExample> data;
        try {
            data = IndexedData.cache(t, StorageLevel.MEMORY_AND_DISK(), s.job() + "-ptx demonstrations " + s.ptxPath());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("data.ptx " + s.ptxPath() + ": none of its " + rows.count()
                    + " demonstrations fits in " + s.algorithm().key("ptx_max_tokens") + " = " + max + " tokens (prompt + response + EOS)", e);
        }
        LOG.info("{}-ptx: {} demonstrations cached; {} longer than {}={} dropped", s.job(), data.count(),
                rows.count() - data.count(), s.algorithm().key("ptx_max_tokens"), max);
        return data;
    }

    // ---------------------------------------------------------------- the run

    /**
     * The whole job on a running session (tests call it with their own session and, optionally, a
     * serializable rule reward instead of reward.kind).
     */
    public static Result run(SparkSession spark, JobConfig cfg, boolean resume, RuleReward rule) throws IOException {
        return run(spark, cfg, Algorithm.PPO, resume, rule);
    }

    /** The job of {@code method} (PPO, GRPO, RLOO) on a running session; {@code cfg} has that method's keys. */
    public static Result run(SparkSession spark, JobConfig cfg, Algorithm method, boolean resume, RuleReward rule)
            throws IOException {
        try (Setup setup = setup(spark, cfg, method, rule)) {
            return run(spark, setup, resume);
        }
    }

    static Result run(SparkSession spark, Setup setup, boolean resume) throws IOException {
        PpoSettings s = setup.s;
        PpoTrainer tr = setup.trainer;
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        String out = s.outputDir().replaceAll("/+$", "");
        RunCheckpoints policyCkpts = new RunCheckpoints(out, s.checkpointEvery(), s.keepLast(), hconf);
        RunCheckpoints criticCkpts = s.hasCritic()
                ? new RunCheckpoints(out + "/critic", s.checkpointEvery(), s.keepLast(), hconf) : null;
        int first = 0;
        if (resume) {
            first = restore(tr, s, setup, policyCkpts, hconf);
        } else if (!policyCkpts.completeSteps().isEmpty()) {
            throw new IllegalArgumentException("output.dir " + s.outputDir() + " already holds checkpoints "
                    + policyCkpts.completeSteps() + ": continue that run with --resume, or set another output.dir");
        }
        int total = s.iterations();
        int stopAt = s.stopAtIteration() > 0 ? Math.min(s.stopAtIteration(), total) : total;
        List<Map<String, Double>> history = new ArrayList<>();
        List<String> shown = new ArrayList<>(List.of("score_mean", "kl", "beta", "policy_loss",
                s.hasCritic() ? "value_loss" : "adv_std", "gen_tokens_per_s"));
        if (setup.frontier != null) {
            shown.add(2, SCORE_VS_BON);
        }
        ConsoleProgress console = ConsoleProgress.onStderr(s.job(), total, first, shown);
        PpoWatch watch = new PpoWatch(s.algorithm(), s.watchIterations(), total, setup.frontier);
        try (MetricsLog metrics = resume ? MetricsLog.resume(s.metricsPath(), first) : MetricsLog.create(s.metricsPath())) {
            for (int it = first; it < stopAt; it++) {
                int done = it + 1;
                boolean sample = s.samplesEvery() > 0 && s.samplesCount() > 0
                        && (done % s.samplesEvery() == 0 || done == 1);
                PpoTrainer.Result r;
                try {
                    r = tr.iterate(it, sample ? s.samplesCount() : 0);
                } catch (NonFiniteLossException e) {
                    String last = policyCkpts.newestComplete().orElse("(none yet)");
                    throw new NonFiniteLossException(e.step(), e.getMessage() + ". Last good checkpoint: " + last
                            + " (nothing was written after it)");
                }
                if (setup.frontier != null) {
                    addFrontierMetrics(r.metrics(), setup.frontier);
                }
                watch.observe(done, r.metrics()).forEach(System.err::println);
                history.add(r.metrics());
                metrics.log(done, r.metrics());
                console.update(done, r.metrics().get("generated_tokens").longValue(), r.metrics());
                if (sample) {
                    writeSamples(out + "/samples/iteration-" + done + ".jsonl", done, r.samples(), hconf);
                }
                if (policyCkpts.due(done) || done == stopAt) {
                    save(tr, setup, done, policyCkpts, criticCkpts);
                }
            }
        }
        int done = Math.max(first, stopAt);
        String finalDir = null;
        if (done >= total) {
            finalDir = out + "/final";
            new Checkpoint(setup.policyConfig.withExtra("rlhf_stage", s.job()), tr.policy, setup.tokenizerFiles, null)
                    .save(finalDir, hconf);
            LOG.info("{}: final policy saved to {}", s.job(), finalDir);
        }
        return new Result(s.job(), tr.policy, tr.critic, done, total, history, finalDir);
    }

    static final String BON_SCORE_AT_KL = "bon_score_at_kl";
    static final String SCORE_VS_BON = "score_vs_bon";
    static final String BON_GOLD_AT_SCORE = "bon_gold_at_score";
    static final String GOLD_VS_BON = "gold_vs_bon";

    /**
     * The iteration read against the start policy's best-of-n frontier: the score best-of-k
     * reaches for the KL the policy has spent, and how far score_mean is above it (below 0: PPO
     * pays more KL for its score than choosing among samples does). With gold scores on both
     * sides: the gold best-of-k has at PPO's reward-model score, and how far gold_mean is above it
     * (below 0: PPO's score is less real than selection's, the reward model is being exploited).
     */
    static void addFrontierMetrics(Map<String, Double> m, BestOfNFrontier frontier) {
        double atKl = frontier.scoreAt(m.get("kl"));
        m.put(BON_SCORE_AT_KL, atKl);
        m.put(SCORE_VS_BON, m.get("score_mean") - atKl);
        if (frontier.gold() != null && m.containsKey("gold_mean")) {
            double gold = frontier.goldAtScore(m.get("score_mean"));
            m.put(BON_GOLD_AT_SCORE, gold);
            m.put(GOLD_VS_BON, m.get("gold_mean") - gold);
        }
    }

    // ---------------------------------------------------------------- checkpoints

    private static void save(PpoTrainer tr, Setup setup, int done, RunCheckpoints policyCkpts,
            RunCheckpoints criticCkpts) throws IOException {
        ObjectNode st = JSON.createObjectNode();
        st.put("iteration", done);
        st.put("algorithm", setup.s.job());
        st.put("samples_per_prompt", setup.s.samplesPerPrompt());
        st.put("seed", setup.s.seed());
        st.put("rng", "stateless: every draw derives from (seed, iteration, rollout id)");
        st.put("rollouts", setup.s.rollouts());
        st.put("epochs", setup.s.epochs());
        st.put("minibatches", setup.s.minibatches());
        st.put("prompts", setup.prompts.count());
        OptimizerState policyAdam = tr.optimizerState(0);
        OptimizerState criticAdam = setup.s.hasCritic() ? tr.optimizerState(1) : null;
        st.put("policy_adam_step", policyAdam.updates());
        if (criticAdam != null) {
            st.put("critic_adam_step", criticAdam.updates());
        }
        st.put("kl_adaptive", tr.kl.adaptive());
        st.put("kl_beta", tr.kl.beta());
        st.put("kl_target", tr.kl.target());
        st.put("kl_horizon", tr.kl.horizon());
        if (criticAdam != null) {
            ObjectNode cst = JSON.createObjectNode();
            cst.put("iteration", done);
            cst.put("critic_adam_step", criticAdam.updates());
            // The critic, the policy, and only then the critic's older checkpoints pruned: wherever a
            // crash cuts this short, the newest complete policy checkpoint has its critic (pruned with
            // the critic's save, keep_last = 1 deleted it before the policy's was written).
            criticCkpts.saveUnpruned(done, new Checkpoint(setup.criticConfig, tr.critic, null,
                    new Checkpoint.TrainingState(cst, criticAdam.slots()[0], criticAdam.slots()[1])),
                    Safetensors.Dtype.F32);
        }
        String dir = policyCkpts.save(done, new Checkpoint(setup.policyConfig, tr.policy, setup.tokenizerFiles,
                new Checkpoint.TrainingState(st, policyAdam.slots()[0], policyAdam.slots()[1])), Safetensors.Dtype.F32);
        if (criticCkpts != null) {
            criticCkpts.prune();
        }
        LOG.info("{}: saved {}", setup.s.job(), dir);
    }

    /** Loads the newest complete checkpoint into the trainer; returns the iterations it had done. */
    private static int restore(PpoTrainer tr, PpoSettings s, Setup setup, RunCheckpoints policyCkpts,
            Configuration hconf) throws IOException {
        String dir = policyCkpts.newestComplete().orElseThrow(() -> new IllegalArgumentException(
                "--resume: no complete checkpoint-<iteration> in output.dir " + s.outputDir()
                        + "; run without --resume to start, or set output.dir to the run to continue"));
        Checkpoint p = Checkpoint.load(dir, true, hconf);
        if (p.training() == null || p.training().adamM() == null) {
            throw new IllegalArgumentException("--resume: " + dir + " has no trainer state and optimizer moments");
        }
        ObjectNode st = p.training().trainerState();
        int done = st.path("iteration").asInt(-1);
        Algorithm a = s.algorithm();
        // a checkpoint of PPO from before GRPO and RLOO existed has no "algorithm": it is PPO's
        String ran = st.path("algorithm").asText(Algorithm.PPO.job());
        if (!ran.equals(s.job())) {
            throw new IllegalArgumentException("--resume: " + dir + " is a checkpoint of a " + ran + " run, not of "
                    + s.job() + "; resume it with bin/rlhf " + ran + ", or set another output.dir");
        }
        TrainerState.requireSame(st, "seed", s.seed(), dir, a.key("seed"));
        TrainerState.requireSame(st, "rollouts", s.rollouts(), dir, a.key("rollouts"));
        TrainerState.requireSame(st, "epochs", s.epochs(), dir, a.key("epochs"));
        TrainerState.requireSame(st, "minibatches", s.minibatches(), dir, a.key("minibatches"));
        if (st.has("samples_per_prompt")) {
            TrainerState.requireSame(st, "samples_per_prompt", s.samplesPerPrompt(), dir, a.key("samples_per_prompt"));
        }
        TrainerState.requireSame(st, "prompts", setup.prompts.count(), dir, "the prompts (after tokenization and filtering)");
        if (p.params().length != tr.policy.length) {
            throw new IllegalArgumentException("--resume: the policy in " + dir
                    + " does not have the shape of model.policy of this run");
        }
        System.arraycopy(p.params(), 0, tr.policy, 0, tr.policy.length);
        OptimizerState criticState = null;
        if (s.hasCritic()) {
            String criticDir = s.outputDir().replaceAll("/+$", "") + "/critic/" + RunCheckpoints.PREFIX + done;
            Checkpoint c = Checkpoint.load(criticDir, true, hconf);
            if (c.training() == null || c.training().adamM() == null) {
                throw new IllegalArgumentException("--resume: " + criticDir + " has no optimizer moments");
            }
            if (c.params().length != tr.critic.length) {
                throw new IllegalArgumentException("--resume: the critic in " + criticDir
                        + " does not have the shape of the critic of this run");
            }
            System.arraycopy(c.params(), 0, tr.critic, 0, tr.critic.length);
            criticState = new OptimizerState(new float[][] {c.training().adamM(), c.training().adamV()},
                    st.path("critic_adam_step").asLong());
        }
        tr.restoreOptimizers(
                new OptimizerState(new float[][] {p.training().adamM(), p.training().adamV()},
                        st.path("policy_adam_step").asLong()),
                criticState);
        tr.kl = new KlController(st.path("kl_adaptive").asBoolean(), st.path("kl_beta").asDouble(),
                st.path("kl_target").asDouble(), st.path("kl_horizon").asDouble());
        LOG.info("{}: resuming from {} (iteration {})", s.job(), dir, done);
        return done;
    }

    private static void writeSamples(String path, int iteration, List<PpoWorker.Sample> samples, Configuration hconf)
            throws IOException {
        try (Writer o = TextFiles.writer(path, hconf)) {
            for (PpoWorker.Sample x : samples) {
                ObjectNode n = JSON.createObjectNode();
                n.put("iteration", iteration);
                n.put("rollout", x.id());
                n.put("prompt", x.prompt());
                n.put("response", x.response());
                n.put("score", x.score());
                n.put("ended_with_eos", x.endedWithEos());
                o.write(JSON.writeValueAsString(n));
                o.write('\n');
            }
        }
    }
}
