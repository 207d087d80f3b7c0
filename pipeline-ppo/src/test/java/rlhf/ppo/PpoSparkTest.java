package rlhf.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import rlhf.config.ConfigException;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.io.RewardScale;
import rlhf.io.RunCheckpoints;
import rlhf.io.TinyCheckpoints;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.RewardScorer;
import rlhf.rules.BuiltinRules;
import rlhf.rules.RewardSource;
import rlhf.rules.RuleReward;
import rlhf.spark.Floats;
import rlhf.spark.NonFiniteLossException;
import rlhf.tokenizer.BpeTokenizer;

/** The Spark side of PPO: partitioning does not change rollouts, resume is exact, NaN stops cleanly. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PpoSparkTest {

    static SparkSession spark;
    static BpeTokenizer tok;
    static final List<String> PROMPTS = PpoFixtures.PROMPTS;
    static final RuleReward RULE = PpoFixtures.FIRST_LETTER;

    @BeforeAll
    static void start() {
        spark = PpoFixtures.spark("ppo-spark-test");
        tok = TinyCheckpoints.bytesTokenizer(spark);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static Map<String, String> base(Path dir, String run) throws Exception {
        return PpoFixtures.smallRun(tok, dir, Algorithm.PPO, run);
    }

    @Test
    void rolloutsThroughSparkWithTwoPartitionsEqualThoseOfOneProcess(@TempDir Path dir) throws Exception {
        Map<String, String> o = base(dir, "run");
        try (PpoJob.Setup setup = PpoJob.setup(spark, PpoFixtures.config(o), Algorithm.PPO, RULE)) {
            assertEquals(2, setup.prompts.partitions());
            PpoTrainer tr = setup.trainer;
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            Broadcast<Floats> policy = Floats.broadcast(sc, tr.policy.clone());
            Broadcast<Floats> critic = Floats.broadcast(sc, tr.critic.clone());
            JavaRDD<Rollout> rdd = tr.rollouts(3, policy);
            JavaRDD<Rollout.Scored> scoredRdd = tr.score(3, rdd, critic, 0.1);
            List<Rollout.Scored> viaSpark = scoredRdd.collect().stream()
                    .sorted(Comparator.comparingLong(x -> x.r().id())).toList();
            scoredRdd.unpersist();
            rdd.unpersist();

            List<Rollout> local = tr.rolloutsInProcess(3, tr.policy);
            List<Rollout.Scored> localScored = tr.scoreInProcess(local, tr.critic, 0.1);
            assertEquals(24, local.size());
            assertEquals(24, viaSpark.size());
            int distinctPrompts = (int) local.stream().mapToLong(Rollout::promptIndex).distinct().count();
            assertEquals(PROMPTS.size(), distinctPrompts, "24 rollouts over 10 prompts use every prompt");
            for (int i = 0; i < local.size(); i++) {
                Rollout a = local.get(i);
                Rollout.Scored bs = viaSpark.get(i);
                Rollout b = bs.r();
                assertEquals(i, a.id());
                assertEquals(a.id(), b.id());
                assertEquals(a.promptIndex(), b.promptIndex());
                assertArrayEquals(a.response(), b.response(), "rollout " + i + " tokens");
                assertEquals(a.endedWithEos(), b.endedWithEos());
                assertArrayEquals(a.logp(), b.logp(), 1e-6f, "rollout " + i + " sampling logprobs");
                Rollout.Scored as = localScored.get(i);
                assertArrayEquals(as.refLogp(), bs.refLogp(), 1e-6f, "rollout " + i + " reference logprobs");
                assertArrayEquals(as.values(), bs.values(), 1e-6f, "rollout " + i + " values");
                assertEquals(as.score(), bs.score(), 1e-12);
                assertArrayEquals(as.advantages(), bs.advantages(), 1e-5, "rollout " + i + " advantages");
                // the rollout's policy is the reference here: logp under both agree (KV cache vs full forward)
                assertArrayEquals(a.logp(), as.refLogp(), 1e-4f, "rollout " + i + ": sampling logp vs reference");
            }
            policy.destroy();
            critic.destroy();
        }
    }

    @Test
    void samplesPerPromptMakeWholeGroupsOfDistinctDrawsInTheTaskHoldingThePrompt(@TempDir Path dir) throws Exception {
        Map<String, String> o = base(dir, "run");
        o.put("ppo.samples_per_prompt", "4");
        try (PpoJob.Setup setup = PpoJob.setup(spark, PpoFixtures.config(o), Algorithm.PPO, RULE)) {
            PpoTrainer tr = setup.trainer;
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            Broadcast<Floats> policy = Floats.broadcast(sc, tr.policy.clone());
            JavaRDD<Rollout> rdd = tr.rollouts(1, policy);
            List<List<Rollout>> byPartition = rdd.glom().collect();
            rdd.unpersist();
            policy.destroy();
            List<Rollout> all = byPartition.stream().flatMap(List::stream)
                    .sorted(Comparator.comparingLong(Rollout::id)).toList();
            assertEquals(24, all.size(), "6 groups of 4");
            for (int g = 0; g < 6; g++) {
                List<Rollout> group = all.subList(4 * g, 4 * g + 4);
                assertEquals(1, group.stream().mapToLong(Rollout::promptIndex).distinct().count(),
                        "group " + g + " is one prompt");
                long first = group.get(0).id() / 4;
                assertEquals(1, byPartition.stream().filter(p -> p.stream().anyMatch(r -> r.id() / 4 == first)).count(),
                        "group " + g + " is made by one task");
            }
            assertEquals(6, all.stream().mapToLong(Rollout::promptIndex).distinct().count(), "six different prompts");
            assertTrue(all.stream().map(r -> java.util.Arrays.toString(r.response())).distinct().count() > 6,
                    "the samples of a group are distinct draws");
            ConfigException e = assertThrows(ConfigException.class, () -> PpoSettings.from(Algorithm.PPO,
                    PpoFixtures.config(Map.of("data.prompts", "p.jsonl", "model.policy", "m", "ppo.rollouts", "10",
                            "ppo.samples_per_prompt", "4"))));
            assertTrue(e.getMessage().contains("not a multiple of ppo.samples_per_prompt = 4"), e.getMessage());
        }
    }

    /**
     * Scoring against an independent computation: log π_ref of each response token from a full
     * forward over its prefix, the score at the last token, -β·k1 at every token, and with
     * γ = λ = 1 the return of token j is score - β Σ_{t >= j} (logp_t - logp_ref_t).
     */
    @Test
    void scoringPutsTheScoreOnTheLastTokenAndTheKlPenaltyOnEveryToken(@TempDir Path dir) throws Exception {
        Map<String, String> o = base(dir, "run");
        o.put("ppo.gamma", "1");
        o.put("ppo.lam", "1");
        o.put("gen.temperature", "0.7");
        try (PpoJob.Setup setup = PpoJob.setup(spark, PpoFixtures.config(o), Algorithm.PPO, RULE)) {
            PpoTrainer tr = setup.trainer;
            GptConfig cfg = TinyCheckpoints.tinyConfig(tok);
            float[] ref = TinyCheckpoints.init(cfg, 77);
            double beta = 0.3;
            List<Rollout> rs = tr.rolloutsInProcess(0, tr.policy);
            List<Rollout.Scored> scored = PpoWorker.score(tr.spec(), ref, tr.critic, null, RewardSource.ofRule(RULE), tok,
                    beta, rs.iterator());
            for (Rollout.Scored x : scored) {
                Rollout r = x.r();
                int P = r.promptIds().length;
                int n = r.response().length;
                double expectScore = RULE.score(r.prompt(), PpoWorker.responseText(tok, r, tok.eosId()));
                assertEquals(expectScore, x.rawScore());
                double tail = 0;
                for (int j = n - 1; j >= 0; j--) {
                    int[] prefix = new int[P + j];
                    System.arraycopy(r.promptIds(), 0, prefix, 0, P);
                    System.arraycopy(r.response(), 0, prefix, P, j);
                    double lp = Math.log(distribution(cfg, ref, prefix, 0.7f)[r.response()[j]]);
                    assertEquals(lp, x.refLogp()[j], 1e-4, "rollout " + r.id() + " token " + j + " reference logp");
                    tail += r.logp()[j] - x.refLogp()[j];
                    assertEquals(expectScore - beta * tail, x.returns()[j], 1e-6, "rollout " + r.id() + " return " + j);
                    assertEquals(x.returns()[j] - x.values()[j], x.advantages()[j], 1e-6);
                }
                assertEquals(tail, x.kl(), 1e-6);
            }
        }
    }

    /** softmax(logits / temperature) after {@code prefix}, from a plain forward. */
    private static double[] distribution(GptConfig cfg, float[] params, int[] prefix, float temperature) {
        Gpt g = new Gpt(cfg, 1, prefix.length);
        g.forward(params, prefix, null, null, 1, prefix.length, false, 0L);
        g.lmHeadForward(params, new int[prefix.length], temperature, new float[prefix.length], null);
        float[] p = new float[cfg.vocabSize()];
        g.probabilities(prefix.length - 1, p, 0);
        double[] out = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            out[i] = p[i];
        }
        return out;
    }

    /** A gold rule named by class: 1 when the response starts with the prompt's first character. */
    public static final class GoldFirstChar implements RuleReward {
        @Override
        public double score(String prompt, String response) {
            return !response.isEmpty() && response.charAt(0) == prompt.charAt(0) ? 1 : 0;
        }
    }

    /** Iteration 0's rollouts of the trainer's policy, generated and scored by Spark tasks. */
    private static List<Rollout.Scored> scoredThroughSpark(PpoTrainer tr) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Broadcast<Floats> policy = Floats.broadcast(sc, tr.policy.clone());
        Broadcast<Floats> critic = Floats.broadcast(sc, tr.critic.clone());
        JavaRDD<Rollout> rdd = tr.rollouts(0, policy);
        JavaRDD<Rollout.Scored> scored = tr.score(0, rdd, critic, 0.1);
        try {
            return scored.collect();
        } finally {
            scored.unpersist();
            rdd.unpersist();
            policy.destroy();
            critic.destroy();
        }
    }

    /** reward.kind=rule: the class named in reward.rule is made on the executors (it is not serializable). */
    @Test
    void ruleNamedByClassScoresOnTheExecutors(@TempDir Path dir) throws Exception {
        Map<String, String> o = base(dir, "run");
        o.put("data.prompts", TinyCheckpoints.writePrompts(dir, "demo.jsonl", List.of("add 1 and 2", "uppercase horse")));
        o.put("data.max_prompt_tokens", "15");
        o.put("gen.max_new_tokens", "1");
        o.put("ppo.rollouts", "6");
        o.put("ppo.minibatches", "1");
        o.put("eval.gold_rule", GoldFirstChar.class.getName());
        try (PpoJob.Setup setup = PpoJob.setup(spark, PpoFixtures.config(o), Algorithm.PPO, null)) {
            List<Rollout.Scored> scored = scoredThroughSpark(setup.trainer);
            RuleReward oracle = new PpoFixtures.ResponseLength();
            RuleReward gold = new GoldFirstChar();
            for (Rollout.Scored x : scored) {
                String response = PpoWorker.responseText(tok, x.r(), tok.eosId());
                assertEquals(oracle.score(x.r().prompt(), response), x.rawScore());
                assertEquals(gold.score(x.r().prompt(), response), x.gold(), "the gold rule, made on the executors too");
            }
        }
    }

    @Test
    void builtInRulesReadEachPromptsReferenceColumnOnTheExecutors(@TempDir Path dir) throws Exception {
        Map<String, String> o = base(dir, "run");
        Path prompts = dir.resolve("refs.jsonl");
        StringBuilder rows = new StringBuilder();
        for (int i = 0; i < PROMPTS.size(); i++) {
            rows.append("{\"prompt\": \"").append(PROMPTS.get(i)).append("\", \"gold\": \"").append(i % 10)
                    .append("\"}\n");
        }
        Files.writeString(prompts, rows.toString());
        o.put("data.prompts", prompts.toString());
        o.put("data.columns.reference", "gold");
        o.put("reward.kind", "sum");
        o.put("reward.sum", "number:2, length:1");
        o.put("reward.length_target", "2");
        try (PpoJob.Setup setup = PpoJob.setup(spark, PpoFixtures.config(o), Algorithm.PPO, null)) {
            List<Rollout.Scored> scored = scoredThroughSpark(setup.trainer);
            RuleReward number = new BuiltinRules.NumberMatch(1e-6, false);
            RuleReward length = new BuiltinRules.LengthPenalty(2);
            int n = 0;
            for (Rollout.Scored x : scored) {
                String expected = String.valueOf(PROMPTS.indexOf(x.r().prompt()) % 10);
                assertEquals(expected, x.r().reference(), "the prompt row's reference travelled with its rollout");
                String response = PpoWorker.responseText(tok, x.r(), tok.eosId());
                assertEquals(2 * number.score(x.r().prompt(), response, expected)
                        + length.score(x.r().prompt(), response), x.rawScore(), 1e-12);
                n++;
            }
            assertEquals(24, n);
        }
    }

    @Test
    void rewardModelScoresAreNormalisedAndPenalisedWithoutEos(@TempDir Path dir) throws Exception {
        GptConfig rc = TinyCheckpoints.tinyConfig(tok).withScoreHead(true);
        float[] rp = TinyCheckpoints.init(rc, 9);
        String rewardDir = dir.resolve("reward").toString();
        new Checkpoint(ModelConfigJson.of(rc, tok.eosId()).withExtra(RewardScorer.APPENDS_EOS_KEY, true)
                .withExtra("rlhf_reward_mean", 0.3).withExtra("rlhf_reward_std", 2.0), rp, null, null)
                .save(rewardDir, new Configuration());
        Map<String, String> o = base(dir, "run");
        o.put("reward.kind", "model");
        o.put("model.reward", rewardDir);
        o.put("reward.missing_eos_penalty", "0.5");
        o.put("gen.max_new_tokens", "2");
        try (PpoJob.Setup setup = PpoJob.setup(spark, PpoFixtures.config(o), Algorithm.PPO, null)) {
            PpoTrainer tr = setup.trainer;
            // the critic starts from the reward model, read on the scale the rewards are: (raw - 0.3) / 2
            float[] onScale = rp.clone();
            new RewardScale(0.3, 2.0).applyToScoreHead(rc, onScale);
            assertArrayEquals(onScale, tr.critic, "the critic starts from the reward model on its recorded scale");
            assertTrue(RewardScale.of(setup.criticConfig, true).isRaw(), "the critic's config records no second scale");
            List<Rollout.Scored> scored = tr.scoreInProcess(tr.rolloutsInProcess(0, tr.policy), tr.critic, 0.0);
            RewardScorer direct = new RewardScorer(rc, 1, 6 + 2 + 1);
            float[] out = new float[1];
            int withoutEos = 0;
            for (Rollout.Scored x : scored) {
                direct.score(rp, new int[][] {x.r().promptIds()}, new int[][] {x.r().response()}, 1, true,
                        tok.eosId(), out);
                assertEquals(out[0], x.rawScore(), 1e-5, "rollout " + x.r().id() + " raw score");
                double expected = (x.rawScore() - 0.3) / 2.0 - (x.r().endedWithEos() ? 0 : 0.5);
                assertEquals(expected, x.score(), 1e-12, "rollout " + x.r().id() + " normalised, penalised score");
                withoutEos += x.r().endedWithEos() ? 0 : 1;
            }
            assertTrue(withoutEos > 0, "some responses hit the length limit");
        }
    }

    /**
     * The uninterrupted run takes the driver's exchange (local mode), the interrupted and resumed
     * one the sharded exchange (AdamW state on the executors, restored there from the checkpoint):
     * the same weights, with a critic warm-up (frozen policy) and PPO-ptx (a second source for the
     * policy).
     */
    @Test
    void resumedRunOnTheShardedExchangeEndsWithTheWeightsOfAnUninterruptedOne(@TempDir Path dir) throws Exception {
        Path demos = dir.resolve("demos.jsonl");
        Files.writeString(demos, "{\"prompt\": \"a\", \"response\": \"a\"}\n{\"prompt\": \"bb\", \"response\": \"b\"}\n"
                + "{\"prompt\": \"ccc\", \"response\": \"cc\"}\n", StandardCharsets.UTF_8);
        Map<String, String> common = Map.of("ppo.iterations", "4", "checkpoint.every", "1",
                "ppo.kl_adaptive", "true", "ppo.kl_target", "0.5", "ppo.kl_horizon", "100",
                "ppo.critic_warmup_iterations", "1", "data.ptx", demos.toString(), "ppo.ptx_coef", "0.5",
                "ppo.ptx_batch", "2", "ppo.ptx_max_tokens", "8");

        Map<String, String> straight = base(dir, "straight");
        straight.putAll(common);
        Path report = dir.resolve("best-of-n-report.json"); // metrics only: the weights must not change
        Files.writeString(report, "{\"frontier\": [{\"k\": 1, \"kl_bound\": 0, \"score\": 0.1},"
                + " {\"k\": 2, \"kl_bound\": 0.2, \"score\": 0.3}]}");
        straight.put("eval.best_of_n_report", report.toString());
        PpoJob.Result a = PpoJob.run(spark, PpoFixtures.config(straight), false, RULE);
        for (Map<String, Double> m : a.history()) {
            double kl = m.get("kl");
            double atKl = kl <= 0 ? 0.1 : kl >= 0.2 ? 0.3 : 0.1 + kl; // the frontier by hand: slope 1
            assertEquals(atKl, m.get("bon_score_at_kl"), 1e-12);
            assertEquals(m.get("score_mean") - atKl, m.get("score_vs_bon"), 1e-12);
            assertTrue(m.get("value_explained_var") <= 1, m.toString());
        }

        Map<String, String> first = base(dir, "resumed");
        first.putAll(common);
        first.put("ppo.stop_at_iteration", "2");
        first.put("ppo.exchange", "sharded");
        PpoJob.Result half = PpoJob.run(spark, PpoFixtures.config(first), false, RULE);
        assertEquals(2, half.iteration());
        assertEquals(null, half.finalDir());
        Map<String, String> second = base(dir, "resumed");
        second.putAll(common);
        second.put("ppo.exchange", "sharded");
        PpoJob.Result b = PpoJob.run(spark, PpoFixtures.config(second), true, RULE);

        assertEquals(4, b.iteration());
        Map<String, Double> last = b.history().get(b.history().size() - 1);
        assertTrue(last.get("updates") > 0, last.toString());
        assertEquals(0.0, last.get("update_driver_in_bytes"), "sharded: the driver receives no gradients or parameters");
        assertTrue(a.history().get(3).get("ptx_loss") > 0, "ptx was mixed in");
        assertArrayEquals(a.policy(), b.policy(), "policy weights after resume");
        assertArrayEquals(a.critic(), b.critic(), "critic weights after resume");
        float[] sft = Checkpoint.load(dir.resolve("sft").toString(), false, new Configuration()).params();
        assertArrayEquals(sft, Checkpoint.load(dir.resolve("straight/checkpoint-1").toString(), false,
                new Configuration()).params(), "the policy is frozen during the critic warm-up");
        assertTrue(differs(a.policy(), Checkpoint.load(dir.resolve("straight/checkpoint-1").toString(), false,
                new Configuration()).params()), "the policy moved after the warm-up iteration");
    }

    /**
     * A checkpoint is the critic's, then the policy's. With checkpoint.keep_last = 1, a driver that
     * dies after the critic's checkpoint 2 and before the policy's (the crash injected here as a
     * failing mkdirs of the policy's temporary directory) must leave the critic of the newest
     * complete policy checkpoint (1) in place: --resume continues from it and ends with the weights
     * of an uninterrupted run. (It used to prune critic/checkpoint-1 when critic/checkpoint-2 was
     * saved, and no resume could ever continue that run.)
     */
    @Test
    void aDriverKilledBetweenTheCriticAndThePolicyCheckpointResumesWithKeepLastOne(@TempDir Path dir) throws Exception {
        Map<String, String> common = Map.of("ppo.iterations", "3", "checkpoint.every", "1", "checkpoint.keep_last", "1");
        Map<String, String> straight = base(dir, "straight");
        straight.putAll(common);
        PpoJob.Result a = PpoJob.run(spark, PpoFixtures.config(straight), false, RULE);

        Map<String, String> crashed = base(dir, "crashed");
        crashed.putAll(common);
        String run = "faulty://" + dir.resolve("crashed");
        crashed.put("output.dir", run);
        crashed.put("metrics.path", dir.resolve("crashed-metrics.jsonl").toString());
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        hconf.set("fs.faulty.impl", FaultyFs.class.getName());
        hconf.setBoolean("fs.faulty.impl.disable.cache", true);
        FaultyFs.failOn = ".*/crashed/checkpoint-2\\.tmp-.*";
        IOException e = assertThrows(IOException.class, () -> PpoJob.run(spark, PpoFixtures.config(crashed), false, RULE));
        assertTrue(e.getMessage().startsWith("injected"), e.getMessage());
        assertEquals(List.of(1L), new RunCheckpoints(run, 0, 0, hconf).completeSteps(), "the policy's checkpoints");
        assertTrue(new RunCheckpoints(run + "/critic", 0, 0, hconf).completeSteps().contains(1L),
                "the critic of the newest complete policy checkpoint is kept");

        PpoJob.Result b = PpoJob.run(spark, PpoFixtures.config(crashed), true, RULE);
        assertEquals(3, b.iteration());
        assertArrayEquals(a.policy(), b.policy(), "policy weights after resume");
        assertArrayEquals(a.critic(), b.critic(), "critic weights after resume");
        assertEquals(List.of(3L), new RunCheckpoints(run + "/critic", 0, 0, hconf).completeSteps(),
                "keep_last = 1 still prunes the critic's older checkpoints");
    }

    /**
     * The local file system under the scheme "faulty": creating a directory whose path matches
     * {@link #failOn} fails once, as if the driver died right there.
     */
    public static final class FaultyFs extends RawLocalFileSystem {
        static volatile String failOn;

        @Override
        public URI getUri() {
            return URI.create("faulty:///");
        }

        @Override
        public String getScheme() {
            return "faulty";
        }

        @Override
        public boolean mkdirs(org.apache.hadoop.fs.Path f) throws IOException {
            failHere(f);
            return super.mkdirs(f);
        }

        @Override
        public boolean mkdirs(org.apache.hadoop.fs.Path f, FsPermission permission) throws IOException {
            failHere(f);
            return super.mkdirs(f, permission);
        }

        private static void failHere(org.apache.hadoop.fs.Path f) throws IOException {
            String pattern = failOn;
            if (pattern != null && f.toUri().getPath().matches(pattern)) {
                failOn = null;
                throw new IOException("injected: the driver dies creating " + f);
            }
        }
    }

    @Test
    void nonFiniteLossStopsWithAClearMessageAndKeepsTheCheckpoint(@TempDir Path dir) throws Exception {
        Map<String, String> o = base(dir, "run");
        o.put("ppo.iterations", "2");
        o.put("checkpoint.every", "1");
        PpoJob.Result good = PpoJob.run(spark, PpoFixtures.config(o), false, RULE);
        String run = dir.resolve("run").toString();

        o.put("ppo.iterations", "4");
        RuleReward nan = (RuleReward & Serializable) (p, r) -> Double.NaN;
        NonFiniteLossException e = assertThrows(NonFiniteLossException.class,
                () -> PpoJob.run(spark, PpoFixtures.config(o), true, nan));
        assertTrue(e.getMessage().contains("ppo iteration 3, epoch 1, minibatch 1: non-finite policy loss NaN"),
                e.getMessage());
        assertTrue(e.getMessage().contains("Last good checkpoint: ") && e.getMessage().contains("checkpoint-2"),
                e.getMessage());
        Configuration hconf = new Configuration();
        assertEquals(List.of(1L, 2L), new RunCheckpoints(run, 0, 0, hconf).completeSteps());
        assertArrayEquals(good.policy(), Checkpoint.load(run + "/checkpoint-2", true, hconf).params(),
                "the last good checkpoint is intact");
    }

    @Test
    void promptsThatAllExceedTheLimitAreAnErrorNamingTheKey(@TempDir Path dir) throws Exception {
        Map<String, String> o = base(dir, "run");
        o.put("data.prompts", TinyCheckpoints.writePrompts(dir, "long.jsonl", List.of("a long prompt", "another one")));
        o.put("data.max_prompt_tokens", "3");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PpoJob.setup(spark, PpoFixtures.config(o), Algorithm.PPO, RULE));
        assertTrue(e.getMessage().contains("long.jsonl: all 2 prompts are empty or longer than "
                + "data.max_prompt_tokens = 3 tokens"), e.getMessage());
        assertTrue(e.getMessage().matches("(?s).*first: \\[\\S*long.jsonl row 1: \\d+ tokens, \\S*long.jsonl row 2: "
                + "\\d+ tokens\\].*"), "the prompts are named by file and row: " + e.getMessage());
    }

    private static boolean differs(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] != b[i]) {
                return true;
            }
        }
        return false;
    }
}
