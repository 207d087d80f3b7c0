package rlhf.ppo;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import rlhf.config.JobConfig;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.optim.AdamW;
import rlhf.spark.IndexedData;
import rlhf.spark.SparkDefaults;
import rlhf.rules.RuleReward;
import rlhf.tokenizer.BpeTokenizer;
import rlhf.tokenizer.BpeTrainer;

/** Tiny models, a byte-level tokenizer and prompt files for the PPO tests. */
final class PpoFixtures {

    private PpoFixtures() {
    }

    static SparkSession spark(String app) {
        SparkConf conf = SparkDefaults.apply(new SparkConf().setAppName(app).setMaster("local[2]")
                .set("spark.ui.enabled", "false").set("spark.sql.shuffle.partitions", "2"));
        return SparkSession.builder().config(conf).getOrCreate();
    }

    /** A byte-level tokenizer (256 bytes + EOS, no merges). */
    static BpeTokenizer bytesTokenizer(SparkSession spark) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        return BpeTrainer.train(sc.parallelize(List.of("abc")), 257);
    }

    static Checkpoint.Tokenizer files(BpeTokenizer tok) throws IOException {
        ByteArrayOutputStream v = new ByteArrayOutputStream();
        ByteArrayOutputStream m = new ByteArrayOutputStream();
        tok.save(v, m);
        return new Checkpoint.Tokenizer(v.toByteArray(), m.toByteArray());
    }

    /** A 1-layer GPT of width 16 over the tokenizer's vocabulary, GPT-2 initialised from seed. */
    static GptConfig tinyConfig(BpeTokenizer tok) {
        return GptConfig.gpt2(tok.vocabSize(), 16, 1, 2, 16);
    }

    static float[] init(GptConfig cfg, long seed) {
        float[] p = new float[ParamLayout.of(cfg).size()];
        Gpt.init(cfg, p, seed);
        return p;
    }

    /** Saves a language model with the tokenizer as an SFT checkpoint; returns its directory. */
    static String savePolicy(Path dir, GptConfig cfg, float[] params, BpeTokenizer tok) throws IOException {
        String d = dir.resolve("sft").toString();
        new Checkpoint(ModelConfigJson.of(cfg, tok.eosId()), params, files(tok), null).save(d, new Configuration());
        return d;
    }

    /** Writes {"prompt": p} lines; returns the file. */
    static String writePrompts(Path dir, String name, List<String> prompts) throws IOException {
        Path f = dir.resolve(name);
        StringBuilder sb = new StringBuilder();
        for (String p : prompts) {
            sb.append("{\"prompt\": \"").append(p).append("\"}\n");
        }
        Files.writeString(f, sb.toString(), StandardCharsets.UTF_8);
        return f.toString();
    }

    /** The defaults with these overrides (a rule-reward run of a tiny model). */
    static JobConfig config(Map<String, String> overrides) {
        JobConfig c = JobConfig.defaults("ppo");
        c.set("reward.kind", "rule", "test");
        c.set("reward.rule", ResponseLength.class.getName(), "test");
        c.set("data.template", "plain", "test");
        overrides.forEach((k, v) -> c.set(k, v, "test"));
        return c;
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
