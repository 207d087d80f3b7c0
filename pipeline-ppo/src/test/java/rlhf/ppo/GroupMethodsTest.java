package rlhf.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

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
import rlhf.config.JobConfig;
import rlhf.io.TinyCheckpoints;
import rlhf.model.GptConfig;
import rlhf.rules.RuleReward;
import rlhf.spark.Floats;
import rlhf.tokenizer.BpeTokenizer;

/**
 * GRPO and RLOO, PPO's engine without a critic: each reaches the exact optimum of the one-token
 * bandit its loss defines; group advantages are the same through Spark as in one process; a
 * resumed run ends with the weights of an uninterrupted one; bad settings are refused by key.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class GroupMethodsTest {

    static SparkSession spark;
    static BpeTokenizer tok;
    static final RuleReward RULE = PpoFixtures.FIRST_LETTER;

    @BeforeAll
    static void start() {
        spark = PpoFixtures.spark("group-methods-test");
        tok = TinyCheckpoints.bytesTokenizer(spark);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** A one-prompt, one-token bandit run of {@code method} from a random tiny model; returns (π_ref, π, r). */
    private static double[][] bandit(Path dir, Algorithm method, double beta, Map<String, String> extra,
            Map<String, Double> table) throws Exception {
        GptConfig cfg = TinyCheckpoints.tinyConfig(tok);
        float[] ref = TinyCheckpoints.init(cfg, 11);
        String sft = TinyCheckpoints.save(dir, "sft", cfg, ref, tok);
        String prompts = TinyCheckpoints.writePrompts(dir, "prompts.jsonl", List.of("q"));
        String k = method.job() + ".";
        Map<String, String> o = new HashMap<>(Map.ofEntries(
                Map.entry("data.prompts", prompts), Map.entry("model.policy", sft),
                Map.entry("output.dir", dir.resolve("run").toString()), Map.entry("data.max_prompt_tokens", "4"),
                Map.entry("gen.max_new_tokens", "1"), Map.entry("gen.batch", "64"),
                Map.entry(k + "rollouts", "128"), Map.entry(k + "samples_per_prompt", "4"),
                Map.entry(k + "epochs", "2"), Map.entry(k + "minibatches", "2"), Map.entry(k + "micro_batch", "64"),
                Map.entry(k + "iterations", "50"), Map.entry(k + "kl_coef", Double.toString(beta)),
                Map.entry(k + "ratio_limit", "0"), Map.entry("optim.policy_lr", "1e-2"),
                Map.entry("optim.grad_clip", "0"), Map.entry("optim.schedule", "linear"),
                Map.entry("checkpoint.every", "0"), Map.entry("samples.every", "0")));
        o.putAll(extra);
        RuleReward rule = PpoFixtures.table(table);
        PpoJob.Result r = PpoJob.run(spark, PpoFixtures.config(method, o), method, false, rule);
        assertNull(r.critic(), "no critic");
        assertFalse(Files.exists(dir.resolve("run/critic")), "no critic checkpoints");
        int[] prompt = tok.encode("q");
        double[] reward = new double[cfg.vocabSize()];
        for (int y = 0; y < reward.length; y++) {
            reward[y] = rule.score("q", y == tok.eosId() ? "" : tok.decode(new int[] {y}));
        }
        return new double[][] {PpoFixtures.firstTokenDistribution(cfg, ref, prompt),
                PpoFixtures.firstTokenDistribution(cfg, r.policy(), prompt), reward};
    }

    private static void assertNear(double[] piRef, double[] pi, double[] optimum, String what) {
        double start = OptimalPolicy.totalVariation(piRef, optimum);
        double end = OptimalPolicy.totalVariation(pi, optimum);
        System.out.printf("%s: TV(pi_ref, pi*) = %.4f, TV(pi, pi*) = %.4f%n", what, start, end);
        assertTrue(start > 0.3, "the optimum must be far from the reference for the test to mean something: TV "
                + start);
        assertTrue(end < 0.05, what + ": TV(pi, pi*) = " + end + " must be < 0.05 (started at " + start + ")");
    }

    /**
     * RLOO, the KL in the reward (k1): the leave-one-out baseline is unbiased, so the fixed point is
     * the maximiser of E[r] - β KL(π ‖ π_ref), π_ref(y) exp(r(y)/β) / Z.
     */
    @Test
    void rlooWithTheKlInTheRewardEndsAtTheKlRegularisedOptimum(@TempDir Path dir) throws Exception {
        double beta = 1.0;
        double[][] x = bandit(dir, Algorithm.RLOO, beta, Map.of(), Map.of("a", 5.0, "b", 4.0, "c", 3.0));
        assertNear(x[0], x[1], OptimalPolicy.optimum(x[0], x[2], beta), "rloo bandit");
    }

    /**
     * Dr. GRPO (no std) with β·k3 as a loss: the group mean includes the sample itself, so the
     * reward's gradient is (G - 1)/G of E[r]'s, while k3's expected gradient is β(π - π_ref), that of
     * β KL(π_ref ‖ π). The fixed point maximises E[r] - β G/(G - 1) KL(π_ref ‖ π).
     */
    @Test
    void drGrpoWithTheK3LossEndsAtItsReverseKlFixedPoint(@TempDir Path dir) throws Exception {
        double beta = 1.0;
        int G = 4;
        double[][] x = bandit(dir, Algorithm.GRPO, beta, Map.of("grpo.scale_rewards", "false"),
                Map.of("a", 5.0, "b", 4.0, "c", 3.0));
        double[] optimum = OptimalPolicy.forwardKlOptimum(x[0], x[2], beta * G / (G - 1));
        assertNear(x[0], x[1], optimum, "dr-grpo bandit");
        double[] inReward = OptimalPolicy.optimum(x[0], x[2], beta);
        assertTrue(OptimalPolicy.totalVariation(x[1], inReward) > 0.1,
                "and it is not the optimum of the KL in the reward, which the test could not tell apart");
        double unscaled = OptimalPolicy.totalVariation(x[1], OptimalPolicy.forwardKlOptimum(x[0], x[2], beta));
        System.out.printf("dr-grpo bandit: TV(pi, optimum at beta without G/(G-1)) = %.4f%n", unscaled);
        assertTrue(unscaled > 0.05, "nor the optimum at beta unscaled by G/(G-1): TV " + unscaled);
    }

    /** PPO's small run, in three partitions and groups of 4 (6 prompts an iteration). */
    private static Map<String, String> base(Path dir, Algorithm method, String run) throws Exception {
        Map<String, String> o = PpoFixtures.smallRun(tok, dir, method, run);
        o.put("data.partitions", "3");
        o.put(method.job() + ".samples_per_prompt", "4");
        return o;
    }

    @Test
    void groupAdvantagesThroughSparkEqualThoseOfOneProcess(@TempDir Path dir) throws Exception {
        Map<String, String> o = base(dir, Algorithm.GRPO, "run");
        try (PpoJob.Setup setup = PpoJob.setup(spark, PpoFixtures.config(Algorithm.GRPO, o), Algorithm.GRPO, RULE)) {
            assertEquals(3, setup.prompts.partitions());
            PpoTrainer tr = setup.trainer;
            assertNull(tr.critic);
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            Broadcast<Floats> policy = Floats.broadcast(sc, tr.policy.clone());
            JavaRDD<Rollout> rdd = tr.rollouts(2, policy);
            JavaRDD<Rollout.Scored> scoredRdd = tr.score(2, rdd, null, 0.1);
            List<Rollout.Scored> viaSpark = scoredRdd.collect().stream()
                    .sorted(Comparator.comparingLong(x -> x.r().id())).toList();
            scoredRdd.unpersist();
            rdd.unpersist();
            policy.destroy();
            List<Rollout.Scored> local = tr.scoreInProcess(tr.rolloutsInProcess(2, tr.policy), null, 0.1);
            assertEquals(24, viaSpark.size());
            boolean someAdvantage = false;
            for (int g = 0; g < 6; g++) {
                double sum = 0;
                double[] rewards = new double[4];
                for (int i = 4 * g; i < 4 * g + 4; i++) {
                    Rollout.Scored a = local.get(i);
                    Rollout.Scored b = viaSpark.get(i);
                    assertEquals(a.r().id(), b.r().id());
                    assertArrayEquals(a.r().response(), b.r().response(), "rollout " + i);
                    assertArrayEquals(a.advantages(), b.advantages(), 1e-5, "rollout " + i + " advantages");
                    assertNull(b.values());
                    double adv = b.advantages()[0];
                    for (double t : b.advantages()) {
                        assertEquals(adv, t, 0, "one advantage for every token of a response");
                    }
                    // the KL is a loss term: the sequence reward is the score alone
                    assertEquals(b.score(), b.rewardSum(), 1e-12);
                    rewards[i - 4 * g] = b.rewardSum();
                    sum += adv;
                    someAdvantage |= adv != 0;
                }
                double[] want = new double[4];
                GroupAdvantages.compute(Algorithm.GRPO, rewards, 4, 4, true, want);
                for (int i = 0; i < 4; i++) {
                    assertEquals(want[i], viaSpark.get(4 * g + i).advantages()[0], 1e-12, "group " + g);
                }
                assertEquals(0, sum, 1e-9, "group " + g + "'s advantages sum to 0");
            }
            assertTrue(someAdvantage, "some group has different rewards");
        }
    }

    /**
     * GRPO with sequence-level aggregation, the KL as a loss and GRPO-ptx (the policy's second
     * source of gradients), stopped after 2 of 4 iterations on the sharded exchange and resumed,
     * ends with the weights of the uninterrupted run on the driver's exchange; the RLOO job
     * refuses GRPO's checkpoint.
     */
    @Test
    void resumedRunEndsWithTheWeightsOfAnUninterruptedOne(@TempDir Path dir) throws Exception {
        Path demos = dir.resolve("demos.jsonl");
        Files.writeString(demos, "{\"prompt\": \"a\", \"response\": \"a\"}\n{\"prompt\": \"bb\", \"response\": \"b\"}\n");
        Map<String, String> common = Map.of("grpo.iterations", "4", "checkpoint.every", "1",
                "grpo.loss_aggregation", "sequence", "grpo.kl_coef", "0.1", "data.ptx", demos.toString(),
                "grpo.ptx_coef", "0.5", "grpo.ptx_batch", "2", "grpo.ptx_max_tokens", "8");
        Map<String, String> straight = base(dir, Algorithm.GRPO, "straight");
        straight.putAll(common);
        PpoJob.Result a = PpoJob.run(spark, PpoFixtures.config(Algorithm.GRPO, straight), Algorithm.GRPO, false, RULE);
        assertTrue(a.history().get(3).get("kl_loss") > 0, a.history().get(3).toString());
        assertTrue(a.history().get(3).get("ptx_loss") > 0, "ptx was mixed in");
        assertFalse(a.history().get(3).containsKey("value_loss"));

        Map<String, String> first = base(dir, Algorithm.GRPO, "resumed");
        first.putAll(common);
        first.put("grpo.stop_at_iteration", "2");
        first.put("grpo.exchange", "sharded");
        PpoJob.Result half = PpoJob.run(spark, PpoFixtures.config(Algorithm.GRPO, first), Algorithm.GRPO, false, RULE);
        assertEquals(2, half.iteration());
        Map<String, String> second = base(dir, Algorithm.GRPO, "resumed");
        second.putAll(common);
        second.put("grpo.exchange", "sharded");
        PpoJob.Result b = PpoJob.run(spark, PpoFixtures.config(Algorithm.GRPO, second), Algorithm.GRPO, true, RULE);
        assertEquals(4, b.iteration());
        assertArrayEquals(a.policy(), b.policy(), "policy weights after resume");

        Map<String, String> rloo = base(dir, Algorithm.RLOO, "resumed");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PpoJob.run(spark, PpoFixtures.config(Algorithm.RLOO, rloo), Algorithm.RLOO, true, RULE));
        assertTrue(e.getMessage().contains("is a checkpoint of a grpo run, not of rloo"), e.getMessage());
    }

    @Test
    void refusesGroupsOfOneAndAK1LossTermByKey() {
        Map<String, String> o = Map.of("data.prompts", "p.jsonl", "model.policy", "m");
        JobConfig one = PpoFixtures.config(Algorithm.GRPO, o);
        one.set("grpo.samples_per_prompt", "1", "test");
        ConfigException e = assertThrows(ConfigException.class, () -> PpoSettings.from(Algorithm.GRPO, one));
        assertTrue(e.getMessage().contains("grpo.samples_per_prompt"), e.getMessage());
        JobConfig k1 = PpoFixtures.config(Algorithm.GRPO, o);
        k1.set("grpo.kl_estimator", "k1", "test");
        e = assertThrows(ConfigException.class, () -> PpoSettings.from(Algorithm.GRPO, k1));
        assertTrue(e.getMessage().contains("grpo.kl_estimator") && e.getMessage().contains("use k3"), e.getMessage());
        JobConfig odd = PpoFixtures.config(Algorithm.RLOO, o);
        odd.set("rloo.rollouts", "10", "test");
        e = assertThrows(ConfigException.class, () -> PpoSettings.from(Algorithm.RLOO, odd));
        assertTrue(e.getMessage().contains("'rloo.rollouts' = 10 is not a multiple of rloo.samples_per_prompt"),
                e.getMessage());
        assertThrows(ConfigException.class, () -> PpoFixtures.config(Algorithm.RLOO, Map.of("optim.critic_lr", "1")),
                "a critic key is unknown to a method without one");
    }
}
