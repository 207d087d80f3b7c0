package rlhf.ppo;

import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

import rlhf.config.JobConfig;
import rlhf.io.TinyCheckpoints;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.optim.AdamW;
import rlhf.spark.IndexedData;
import rlhf.spark.SparkDefaults;
import rlhf.rules.RuleReward;
import rlhf.tokenizer.BpeTokenizer;

/** Tiny models, a byte-level tokenizer and prompt files for the PPO tests. */
final class PpoFixtures {

    private PpoFixtures() {
    }

    static SparkSession spark(String app) {
        SparkConf conf = SparkDefaults.apply(new SparkConf().setAppName(app).setMaster("local[2]")
                .set("spark.ui.enabled", "false").set("spark.sql.shuffle.partitions", "2"));
        return SparkSession.builder().config(conf).getOrCreate();
    }

    /** The defaults with these overrides (a rule-reward run of a tiny model). */
    static JobConfig config(Map<String, String> overrides) {
        return config(Algorithm.PPO, overrides);
    }

    /** The defaults of {@code method}'s job with these overrides (a rule-reward run of a tiny model). */
    static JobConfig config(Algorithm method, Map<String, String> overrides) {
        JobConfig c = JobConfig.defaults(method.job());
        c.set("reward.kind", "rule", "test");
        c.set("reward.rule", ResponseLength.class.getName(), "test");
        c.set("data.template", "plain", "test");
        overrides.forEach((k, v) -> c.set(k, v, "test"));
        return c;
    }

    /** Ten short prompts of the Spark tests. */
    static final List<String> PROMPTS = List.of("a", "bb", "ccc", "dddd", "e", "ff", "ggg", "h", "ii", "jjj");

    /** 1 when the response repeats the prompt's letter first, 0.2 when it ends at once, else 0. */
    static final RuleReward FIRST_LETTER = (RuleReward & Serializable) (p, r) ->
            r.isEmpty() ? 0.2 : r.charAt(0) == p.charAt(0) ? 1.0 : 0.0;

    /**
     * A small run of {@code method} over {@link #PROMPTS} from a tiny random policy ({@code dir}/sft,
     * made once): two partitions, 24 rollouts of up to 5 tokens, 2 epochs of 3 minibatches.
     */
    static Map<String, String> smallRun(BpeTokenizer tok, Path dir, Algorithm method, String run) throws Exception {
        GptConfig cfg = TinyCheckpoints.tinyConfig(tok);
        String sft = Files.isDirectory(dir.resolve("sft")) ? dir.resolve("sft").toString()
                : TinyCheckpoints.save(dir, "sft", cfg, TinyCheckpoints.init(cfg, 3), tok);
        String prompts = TinyCheckpoints.writePrompts(dir, "prompts.jsonl", PROMPTS);
        String k = method.job() + ".";
        Map<String, String> o = new HashMap<>(Map.ofEntries(
                Map.entry("data.prompts", prompts), Map.entry("model.policy", sft),
                Map.entry("output.dir", dir.resolve(run).toString()), Map.entry("data.max_prompt_tokens", "6"),
                Map.entry("data.partitions", "2"), Map.entry("gen.max_new_tokens", "5"), Map.entry("gen.batch", "4"),
                Map.entry("gen.top_k", "40"), Map.entry("gen.temperature", "0.9"),
                Map.entry(k + "rollouts", "24"), Map.entry(k + "epochs", "2"), Map.entry(k + "minibatches", "3"),
                Map.entry(k + "micro_batch", "3"), Map.entry("optim.policy_lr", "3e-3"),
                Map.entry("samples.every", "0"), Map.entry("checkpoint.keep_last", "0")));
        if (method.hasCritic()) {
            o.put("optim.critic_lr", "3e-3");
        }
        return o;
    }

    /**
     * A rule named by class in the tests' configuration: minus the distance of the response's
     * length from 3 characters. Deliberately not serializable: executors must make their own.
     */
    public static final class ResponseLength implements RuleReward {
        @Override
        public double score(String prompt, String response) {
            return -Math.abs(response.length() - 3);
        }
    }

    /** A rule reward from a table of exact responses (0 for any other response). */
    static RuleReward table(Map<String, Double> rewards) {
        Map<String, Double> copy = Map.copyOf(rewards);
        return (RuleReward & Serializable) (prompt, response) -> copy.getOrDefault(response, 0.0);
    }

    /** softmax at temperature 1 of the policy's next-token logits after {@code prompt}: (V) */
    static double[] firstTokenDistribution(GptConfig cfg, float[] params, int[] prompt) {
        Gpt g = new Gpt(cfg, 1, prompt.length);
        g.forward(params, prompt, null, null, 1, prompt.length, false, 0L);
        int[] targets = new int[prompt.length];
        g.lmHeadForward(params, targets, 1f, new float[prompt.length], null);
        float[] p = new float[cfg.vocabSize()];
        g.probabilities(prompt.length - 1, p, 0);
        double[] out = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            out[i] = p[i];
        }
        return out;
    }

    /**
     * Supervised training of {@code params} in place on (prompt, response) demonstrations with the
     * PPO-ptx loss, in this process: full-batch AdamW steps.
     */
    static void sft(PpoWorker.Spec spec, float[] params, BpeTokenizer tok, List<String[]> demos, int steps, float lr) {
        List<PpoWorker.PtxExample> ex = new ArrayList<>();
        for (String[] d : demos) {
            int[] p = tok.encode(d[0]);
            int[] r = tok.encode(d[1]);
            int[] all = new int[p.length + r.length + 1];
            System.arraycopy(p, 0, all, 0, p.length);
            System.arraycopy(r, 0, all, p.length, r.length);
            all[all.length - 1] = tok.eosId();
            ex.add(new PpoWorker.PtxExample(all, p.length));
        }
        long[] index = new long[ex.size()];
        for (int i = 0; i < index.length; i++) {
            index[i] = i;
        }
        AdamW adam = new AdamW(ParamLayout.of(spec.policy()), 0.9f, 0.999f, 1e-8f, 0f, false);
        float[] g = new float[params.length];
        for (int step = 0; step < steps; step++) {
            rlhf.spark.Exchange.Partial part = PpoWorker.ptx(spec, params, ex.size(), step,
                    List.of(new IndexedData.Shard<>(index, ex)).iterator());
            double tokens = part.stats().weight();
            float[] sum = part.grad(0);
            for (int i = 0; i < g.length; i++) {
                g[i] = sum[i] / (float) tokens;
            }
            part.release();
            adam.update(params, g, lr);
        }
    }
}
