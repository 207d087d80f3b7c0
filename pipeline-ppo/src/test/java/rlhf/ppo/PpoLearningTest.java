package rlhf.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import rlhf.config.JobConfig;
import rlhf.io.ModelConfigJson;
import rlhf.io.TinyCheckpoints;
import rlhf.model.GptConfig;
import rlhf.rules.RuleReward;
import rlhf.tokenizer.BpeTokenizer;

/** PPO through Spark on tiny models: it finds the KL-regularised optimum, and it learns a task. */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class PpoLearningTest {

    static SparkSession spark;
    static BpeTokenizer tok;

    @BeforeAll
    static void start() {
        spark = PpoFixtures.spark("ppo-learning-test");
        tok = TinyCheckpoints.bytesTokenizer(spark);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /**
     * One-token responses, reward r(y) by token, fixed β: the maximiser of E[r] - β KL(π ‖ π_ref)
     * is π_ref(y) exp(r(y)/β) / Z. PPO from π_ref must end within total variation 0.05 of it.
     */
    @Test
    void oneTokenBanditEndsAtTheKlRegularisedOptimum(@TempDir Path dir) throws Exception {
        GptConfig cfg = TinyCheckpoints.tinyConfig(tok);
        float[] ref = TinyCheckpoints.init(cfg, 11);
        String sft = TinyCheckpoints.save(dir, "sft", cfg, ref, tok);
        String prompts = TinyCheckpoints.writePrompts(dir, "prompts.jsonl", List.of("q"));
        double beta = 1.0;
        Map<String, Double> table = Map.of("a", 5.0, "b", 4.0, "c", 3.0);
        RuleReward rule = PpoFixtures.table(table);
        JobConfig c = PpoFixtures.config(Map.ofEntries(
                Map.entry("data.prompts", prompts), Map.entry("model.policy", sft),
                Map.entry("output.dir", dir.resolve("run").toString()), Map.entry("data.max_prompt_tokens", "4"),
                Map.entry("gen.max_new_tokens", "1"), Map.entry("gen.batch", "64"),
                Map.entry("ppo.rollouts", "128"), Map.entry("ppo.epochs", "2"), Map.entry("ppo.minibatches", "2"),
                Map.entry("ppo.micro_batch", "64"), Map.entry("ppo.iterations", "50"),
                Map.entry("ppo.kl_coef", Double.toString(beta)), Map.entry("ppo.gamma", "1"),
                Map.entry("ppo.lam", "1"), Map.entry("ppo.whiten_advantages", "false"),
                Map.entry("ppo.vf_coef", "1"), Map.entry("ppo.ratio_limit", "0"),
                Map.entry("optim.policy_lr", "1e-2"), Map.entry("optim.critic_lr", "1e-2"),
                Map.entry("optim.grad_clip", "0"), Map.entry("optim.schedule", "linear"),
                Map.entry("checkpoint.every", "0"), Map.entry("samples.every", "0")));

        PpoJob.Result r = PpoJob.run(spark, c, false, rule);

        int[] prompt = tok.encode("q");
        double[] piRef = PpoFixtures.firstTokenDistribution(cfg, ref, prompt);
        double[] reward = new double[cfg.vocabSize()];
        for (int y = 0; y < reward.length; y++) {
            reward[y] = rule.score("q", y == tok.eosId() ? "" : tok.decode(new int[] {y}));
        }
        double[] optimum = OptimalPolicy.optimum(piRef, reward, beta);
        double[] pi = PpoFixtures.firstTokenDistribution(cfg, r.policy(), prompt);
        double start = OptimalPolicy.totalVariation(piRef, optimum);
        double end = OptimalPolicy.totalVariation(pi, optimum);
        int a = tok.encode("a")[0];
        System.out.printf("bandit: TV(pi_ref, pi*) = %.4f, TV(pi, pi*) = %.4f; pi(a) = %.4f, pi*(a) = %.4f%n",
                start, end, pi[a], optimum[a]);
        assertTrue(start > 0.3, "the optimum must be far from the reference for the test to mean something: TV "
                + start);
        assertTrue(end < 0.05, "TV(pi, pi*) = " + end + " must be < 0.05 (started at " + start + ")");
    }

    /**
     * A verifiable task: answer a letter with its upper case. An SFT-like policy right 40% of the
     * time (its demonstrations were) is raised well above that by PPO on the rule reward, while its
     * KL to the reference stays bounded.
     */
    @Test
    void verifiableTaskRewardRisesWithBoundedKl(@TempDir Path dir) throws Exception {
        GptConfig cfg = TinyCheckpoints.tinyConfig(tok);
        float[] params = TinyCheckpoints.init(cfg, 5);
        List<String> letters = List.of("a", "b", "c", "d", "e", "f");
        List<String[]> demos = new ArrayList<>();
        for (String l : letters) {
            String up = l.toUpperCase();
            String wrong = String.valueOf((char) (up.charAt(0) + 1));
            for (int k = 0; k < 10; k++) {
                demos.add(new String[] {l, k < 4 ? up : wrong});
            }
        }
        String prompts = TinyCheckpoints.writePrompts(dir, "prompts.jsonl", letters);
        Map<String, String> o = new HashMap<>(Map.ofEntries(
                Map.entry("data.prompts", prompts), Map.entry("model.policy", "unused"),
                Map.entry("output.dir", dir.resolve("run").toString()), Map.entry("data.max_prompt_tokens", "4"),
                Map.entry("gen.max_new_tokens", "3"), Map.entry("gen.batch", "32"),
                Map.entry("ppo.rollouts", "64"), Map.entry("ppo.epochs", "2"), Map.entry("ppo.minibatches", "2"),
                Map.entry("ppo.micro_batch", "32"), Map.entry("ppo.iterations", "8"),
                Map.entry("ppo.kl_coef", "0.2"), Map.entry("ppo.ptx_batch", Integer.toString(demos.size())),
                Map.entry("ppo.ptx_max_tokens", "8"), Map.entry("optim.policy_lr", "3e-3"),
                Map.entry("optim.critic_lr", "1e-2"), Map.entry("checkpoint.every", "0"),
                Map.entry("samples.every", "4")));
        PpoWorker.Spec spec = new PpoWorker.Spec(PpoSettings.from(Algorithm.PPO, PpoFixtures.config(o)),
                ModelConfigJson.of(cfg, tok.eosId()), ModelConfigJson.of(cfg.withScoreHead(true), tok.eosId()), null);
        PpoFixtures.sft(spec, params, tok, demos, 150, 1e-2f);
        o.put("model.policy", TinyCheckpoints.save(dir, "sft", cfg, params, tok));
        RuleReward rule = (RuleReward & java.io.Serializable) (p, resp) -> resp.equals(p.toUpperCase()) ? 1.0 : 0.0;

        PpoJob.Result r = PpoJob.run(spark, PpoFixtures.config(o), false, rule);

        List<Map<String, Double>> h = r.history();
        double first = h.get(0).get("raw_score_mean");
        double last = (h.get(h.size() - 1).get("raw_score_mean") + h.get(h.size() - 2).get("raw_score_mean")) / 2;
        double maxKl = h.stream().mapToDouble(m -> m.get("kl")).max().orElseThrow();
        System.out.printf("task: reward %.3f -> %.3f, max KL %.3f%n", first, last, maxKl);
        assertTrue(first > 0.2 && first < 0.6, "the SFT-like policy should start near its demonstrations' 40%: "
                + first);
        assertTrue(last > first + 0.3, "mean reward must rise well above the start: " + first + " -> " + last);
        assertTrue(maxKl < 2.0, "KL to the reference must stay bounded: max " + maxKl);
        assertEquals(8, r.iteration());
        assertTrue(new java.io.File(r.finalDir(), "model.safetensors").isFile(), "final policy saved");
        assertTrue(new java.io.File(dir.resolve("run").toFile(), "samples/iteration-4.jsonl").isFile(), "samples");
    }
}
