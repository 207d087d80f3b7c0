package rlhf.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

import rlhf.config.JobConfig;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.model.RewardScorer;
import rlhf.ppo.Algorithm;
import rlhf.ppo.PpoBenchAccess;
import rlhf.ppo.Rollout;
import rlhf.spark.Floats;
import rlhf.spark.SparkDefaults;
import rlhf.tensor.Parallel;
import rlhf.tokenizer.BpeTokenizer;
import rlhf.tokenizer.BpeTrainer;

/**
 * Speed of the rollout phase and of one iteration of PPO, GRPO or RLOO (a main, not a test):
 *
 * <ol>
 *   <li>generation tokens/s of the rollouts through Spark (one partition: one task on the kernel
 *       pool, as in one process) against the same generation called in this process: the
 *       overhead of broadcast, task, caching the rollouts (target below 10%);</li>
 *   <li>the time split (rollout / scoring / update) of one full iteration.</li>
 * </ol>
 *
 * Models: policy = reference, critic = reward model, each L layers of width C (default 6 x 512),
 * vocabulary V (default 8192), random weights (speed does not depend on them; responses run to
 * max_new_tokens as a random policy almost never samples EOS). Medians of the repeats after a
 * warm-up. System properties: method (ppo | grpo | rloo, default ppo: GRPO and RLOO have no
 * critic and sample groups of samplesPerPrompt, default 4), L, C, V, rollouts, newTokens,
 * promptTokens, batch, repeats, iterations (timed: the last of them, default 2), epochs and
 * minibatches (default: the method's), master (default local[2]), threads (kernel pool, default 2).
 * The last line, "iteration_s=...", is for scripts (bench/rl-methods.sh).
 *
 * <pre>
 * mvn -q -B -ntp -pl common,pipeline-ppo test-compile
 * java -cp "$(cat pipeline-ppo/target/test-classpath.txt)" ... rlhf.bench.PpoBench
 * </pre>
 * (see README-ppo.md for the exact command).
 */
public final class PpoBench {

    private PpoBench() {
    }

    public static void main(String[] args) throws Exception {
        int L = Integer.getInteger("L", 6);
        int C = Integer.getInteger("C", 512);
        int V = Integer.getInteger("V", 8192);
        int rollouts = Integer.getInteger("rollouts", 32);
        int newTokens = Integer.getInteger("newTokens", 32);
        int promptTokens = Integer.getInteger("promptTokens", 16);
        int batch = Integer.getInteger("batch", 16);
        int repeats = Integer.getInteger("repeats", 3);
        int iterations = Integer.getInteger("iterations", 2);
        Algorithm method = Algorithm.valueOf(System.getProperty("method", "ppo").toUpperCase(Locale.ROOT));
        int samplesPerPrompt = method.hasCritic() ? 1 : Integer.getInteger("samplesPerPrompt", 4);
        int threads = Integer.getInteger("threads", 2);
        Parallel.setThreads(threads);
        String master = System.getProperty("master", "local[2]");
        SparkSession spark = SparkSession.builder().config(SparkDefaults.apply(new SparkConf().setAppName("ppo-bench")
                .setMaster(master).set("spark.ui.enabled", "false"))).getOrCreate();
        Path dir = Files.createTempDirectory("ppo-bench");
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            BpeTokenizer tok = BpeTrainer.train(sc.parallelize(List.of("abc")), 257);
            int nPos = promptTokens + newTokens + 1;
            GptConfig pc = GptConfig.gpt2(V, nPos, L, C / 64, C);
            GptConfig rc = pc.withScoreHead(true);
            Checkpoint.Tokenizer files = files(tok);
            Configuration hconf = new Configuration();
            new Checkpoint(ModelConfigJson.of(pc, tok.eosId()), init(pc, 1), files, null)
                    .save(dir.resolve("sft").toString(), hconf);
            new Checkpoint(ModelConfigJson.of(rc, tok.eosId()).withExtra(RewardScorer.APPENDS_EOS_KEY, true),
                    init(rc, 2), null, null).save(dir.resolve("reward").toString(), hconf);
            StringBuilder prompts = new StringBuilder();
            for (int i = 0; i < rollouts; i++) {
                String p = ("prompt " + i + " " + "abcdefghijklmnopqrstuvwxyz".repeat(4)).substring(0, promptTokens);
                prompts.append("{\"prompt\": \"").append(p).append("\"}\n");
            }
            Files.writeString(dir.resolve("prompts.jsonl"), prompts.toString());
            JobConfig cfg = JobConfig.defaults(method.job());
            Map<String, String> set = new java.util.HashMap<>(Map.ofEntries(
                    Map.entry("data.prompts", dir.resolve("prompts.jsonl").toString()),
                    Map.entry("data.template", "plain"), Map.entry("data.partitions", "1"),
                    Map.entry("data.max_prompt_tokens", Integer.toString(promptTokens)),
                    Map.entry("model.policy", dir.resolve("sft").toString()),
                    Map.entry("model.reward", dir.resolve("reward").toString()),
                    Map.entry("gen.max_new_tokens", Integer.toString(newTokens)),
                    Map.entry("gen.batch", Integer.toString(batch)),
                    Map.entry(method.key("rollouts"), Integer.toString(rollouts)),
                    Map.entry(method.key("samples_per_prompt"), Integer.toString(samplesPerPrompt)),
                    Map.entry(method.key("micro_batch"), Integer.toString(batch)),
                    Map.entry("output.dir", dir.resolve("run").toString())));
            for (String k : List.of("epochs", "minibatches")) {
                if (System.getProperty(k) != null) {
                    set.put(method.key(k), System.getProperty(k));
                }
            }
            set.forEach((k, v) -> cfg.set(k, v, "bench"));
            System.out.printf(Locale.ROOT, "%s bench: policy L=%d C=%d V=%d (%.1fM parameters), %d rollouts x %d "
                    + "new tokens after %d-token prompts (%d samples per prompt), generation batch %d, %s, kernel "
                    + "threads %d%n", method, L, C, V, ParamLayout.of(pc).size() / 1e6, rollouts, newTokens,
                    promptTokens, samplesPerPrompt, batch, master, threads);

            try (PpoBenchAccess b = PpoBenchAccess.setup(spark, cfg, method)) {
                float[] policy = b.policy();
                double[] local = new double[repeats];
                double[] viaSpark = new double[repeats];
                for (int r = -1; r < repeats; r++) {          // r = -1: warm-up
                    long t0 = System.nanoTime();
                    List<Rollout> rs = b.rolloutsInProcess(r + 1, policy);
                    double s1 = (System.nanoTime() - t0) / 1e9;
                    long tokens = rs.stream().mapToLong(x -> x.response().length).sum();
                    Broadcast<Floats> bc = Floats.broadcast(sc, policy.clone());
                    t0 = System.nanoTime();
                    JavaRDD<Rollout> rdd = b.rollouts(r + 1, bc);
                    double s2 = (System.nanoTime() - t0) / 1e9;
                    long tokens2 = rdd.map(x -> (long) x.response().length).reduce(Long::sum);
                    rdd.unpersist(false);
                    bc.destroy();
                    if (tokens != tokens2) {
                        throw new IllegalStateException("in-process and Spark rollouts differ: " + tokens + " vs "
                                + tokens2 + " tokens");
                    }
                    if (r >= 0) {
                        local[r] = tokens / s1;
                        viaSpark[r] = tokens / s2;
                    }
                    System.out.printf(Locale.ROOT, "  %s generation: one process %.1f tok/s, Spark %.1f tok/s (%d tokens)%n",
                            r < 0 ? "warm-up" : "run " + (r + 1), tokens / s1, tokens / s2, tokens);
                }
                double ml = median(local);
                double ms = median(viaSpark);
                System.out.printf(Locale.ROOT, "generation tokens/s (median of %d): one process %.1f, through Spark %.1f;"
                        + " overhead %.1f%% (target < 10%%)%n", repeats, ml, ms, 100 * (ml / ms - 1));

                List<Map<String, Double>> its = new ArrayList<>();
                for (int it = 0; it < iterations; it++) {
                    its.add(b.iterate(it));
                }
                Map<String, Double> m = its.get(its.size() - 1);
                double total = m.get("time_rollout_s") + m.get("time_scoring_s") + m.get("time_update_s");
                System.out.printf(Locale.ROOT, "one iteration (the last of %d; %d epochs x %d minibatches): %.2f s = rollout "
                        + "%.2f s (%.0f%%) + scoring %.2f s (%.0f%%) + update %.2f s (%.0f%%); generation %.1f tok/s, "
                        + "training %.1f tok/s (policy [+ critic] forward/backward per input token); update tasks' own "
                        + "compute %.2f s, exchange %.2f s, optimizer %.2f s: exchange + optimizer %.0f%% of the update%n",
                        iterations, b.settings().epochs(), b.settings().minibatches(), total,
                        m.get("time_rollout_s"), 100 * m.get("time_rollout_s") / total,
                        m.get("time_scoring_s"), 100 * m.get("time_scoring_s") / total,
                        m.get("time_update_s"), 100 * m.get("time_update_s") / total,
                        m.get("gen_tokens_per_s"), m.get("train_tokens_per_s"), m.get("time_update_tasks_s"),
                        m.get("time_update_exchange_s"), m.get("time_update_optimizer_s"),
                        100 * (m.get("time_update_exchange_s") + m.get("time_update_optimizer_s")) / m.get("time_update_s"));
                System.out.printf(Locale.ROOT, "iteration_s=%.3f rollout_s=%.3f scoring_s=%.3f update_s=%.3f "
                        + "method=%s epochs=%d minibatches=%d%n", total, m.get("time_rollout_s"),
                        m.get("time_scoring_s"), m.get("time_update_s"), method.job(), b.settings().epochs(),
                        b.settings().minibatches());
            }
        } finally {
            spark.stop();
            deleteTree(dir.toFile());
        }
    }

    private static float[] init(GptConfig cfg, long seed) {
        float[] p = new float[ParamLayout.of(cfg).size()];
        Gpt.init(cfg, p, seed);
        return p;
    }

    private static Checkpoint.Tokenizer files(BpeTokenizer tok) throws java.io.IOException {
        java.io.ByteArrayOutputStream v = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream m = new java.io.ByteArrayOutputStream();
        tok.save(v, m);
        return new Checkpoint.Tokenizer(v.toByteArray(), m.toByteArray());
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static void deleteTree(java.io.File f) {
        java.io.File[] c = f.listFiles();
        if (c != null) {
            for (java.io.File x : c) {
                deleteTree(x);
            }
        }
        f.delete();
    }
}
