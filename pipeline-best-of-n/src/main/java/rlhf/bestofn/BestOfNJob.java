package rlhf.bestofn;

import java.io.IOException;
import java.io.Writer;
import java.util.Iterator;
import java.util.Locale;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
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
import rlhf.io.Checkpoint;
import rlhf.io.TextFiles;
import rlhf.rules.RewardSource;
import rlhf.spark.IndexedData;
import rlhf.spark.Params;
import rlhf.spark.PromptSet;
import rlhf.spark.RolloutModels;
import rlhf.tokenizer.BpeTokenizer;

/**
 * Best-of-n: {@code bin/rlhf best-of-n --config FILE [--set k=v ...]}, or
 * {@code spark-submit --class rlhf.bestofn.BestOfNJob rlhf-pipeline-best-of-n.jar ...}. Keys:
 * conf/best-of-n.properties.
 *
 * <p>The recipe ({@link #run}): load the configuration; load the policy and the reward model (or
 * take the rule); tokenize and cache the prompts on the executors; sample and score n responses
 * per prompt in one pass ({@link BestOfNWorker}); stream the results to the driver in prompt
 * order, writing chosen.jsonl, pairs.jsonl and samples.jsonl as they come and report.json last.
 *
 * <p>It is rejection sampling (the chosen responses are SFT data) and the yardstick of PPO: the
 * best of n samples of the start policy gains {@code score_best_of_n - score_one_sample} for at
 * most {@code log n - (n-1)/n} nats of KL, a point a PPO run should reach or pass.
 */
public final class BestOfNJob {

    private static final Logger LOG = LoggerFactory.getLogger(BestOfNJob.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    public static final String CHOSEN = "chosen.jsonl";
    public static final String PAIRS = "pairs.jsonl";
    public static final String SAMPLES = "samples.jsonl";
    /** Written last: a directory with it holds a complete result. */
    public static final String REPORT = "report.json";

    private BestOfNJob() {
    }

    public static void main(String[] argv) {
        Cli.job("best-of-n", Args.command("best-of-n",
                "n samples per prompt, scored by a reward model or a rule, the best kept"), argv,
                BestOfNSettings::from, (args, settings, cfg, spark) -> System.err.println(run(spark, cfg).summary()));
    }

    /** What a run wrote: the report's sums and the directory of its files. */
    public record Result(BestOfNReport report, String outputDir, double seconds) {
        public String summary() {
            return String.format(Locale.ROOT, "best-of-n: %s; %.0f s; wrote %s/{%s,%s,%s,%s}", report.summary(), seconds,
                    outputDir, CHOSEN, PAIRS, SAMPLES, REPORT);
        }
    }

    /** Whether {@code dir} holds a complete best-of-n result (its report.json). */
    public static boolean isComplete(String dir, Configuration hconf) throws IOException {
        Path p = new Path(dir.replaceAll("/+$", "") + "/" + REPORT);
        return p.getFileSystem(hconf).exists(p);
    }

    /** The whole job on a running session (the pipeline and tests call it with their own). */
    public static Result run(SparkSession spark, JobConfig cfg) throws IOException {
        long t0 = System.nanoTime();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hconf = sc.hadoopConfiguration();
        BestOfNSettings s = BestOfNSettings.from(RolloutModels.resolvePromptTokens(cfg, hconf));
        if (isComplete(s.outputDir(), hconf)) {
            throw new ConfigException("output.dir " + s.outputDir() + " already holds a best-of-n result (" + REPORT
                    + "); choose another output.dir, or delete it to sample again");
        }

        RolloutModels.Policy policy = RolloutModels.policy("model.policy", s.policyPath(), s.maxPromptTokens(), hconf);
        Checkpoint rm = !s.rewardSource().needsModel() ? null : RolloutModels.rewardModel("model.reward", s.rewardPath(),
                policy.config(), s.maxPromptTokens(), s.maxNewTokens(), hconf);
        Broadcast<BpeTokenizer> tokenizer = sc.broadcast(policy.tokenizer());
        BestOfNWorker.Spec spec = new BestOfNWorker.Spec(s, policy.checkpoint().config(),
                rm == null ? null : rm.config(), tokenizer);
        IndexedData<PromptSet.Tokenized> prompts = PromptSet.load(sc, DatasetSource.fromConfig(s.promptsPath(), cfg)
                .prompts(spark, DatasetSource.template(cfg, spark)), policy.tokenizer(), s.maxPromptTokens(),
                s.partitions(), "data.prompts " + s.promptsPath());
        PromptSet.requireReferences(prompts, s.rewardSource(), "data.prompts " + s.promptsPath());
        Params policyParams = Params.of(sc, policy.checkpoint().params());
        Params rewardParams = rm == null ? null : Params.of(sc, rm.params());
        JavaRDD<BestOfNWorker.PromptSamples> samples = prompts.shards().mapPartitions(shards -> BestOfNWorker.sample(
                spec, policyParams.value(), rewardParams == null ? null : rewardParams.value(), shards).iterator(), true);
        samples.setName("best-of-n samples").persist(StorageLevel.MEMORY_AND_DISK_SER());
        BestOfNReport report = new BestOfNReport(s.n(), s.gold().isPresent());
        try {
            sc.setJobDescription("best-of-n: " + s.n() + " samples of each of " + prompts.count() + " prompts");
            samples.count(); // every partition at once; the writing below streams them in prompt order
            sc.setJobDescription("best-of-n: write " + s.outputDir());
            write(samples.toLocalIterator(), s, report, hconf);
        } finally {
            sc.setJobDescription(null);
            samples.unpersist(false);
            policyParams.release();
            if (rewardParams != null) {
                rewardParams.release();
            }
            prompts.unpersist();
            tokenizer.destroy();
        }
        ObjectNode header = JSON.createObjectNode();
        header.put("policy", s.policyPath());
        RewardSource reward = s.rewardSource();
        header.put("reward", !reward.needsModel() ? reward.describe() : !reward.hasRules() ? s.rewardPath()
                : reward.describe() + " (model " + s.rewardPath() + ")");
        header.put("score_scale", !reward.needsModel() ? "rule" : spec.scale.isRaw() ? "raw reward-model score"
                : String.format(Locale.ROOT, "(reward - %s) / %s, the reward model's recorded mean and std",
                        spec.scale.mean(), spec.scale.std()));
        header.put("missing_eos_penalty", s.missingEosPenalty());
        s.gold().ifPresent(g -> header.put("gold_rule", g));
        header.put("temperature", s.temperature());
        header.put("top_k", s.topK());
        header.put("top_p", s.topP());
        header.put("max_new_tokens", s.maxNewTokens());
        header.put("seed", s.seed());
        double seconds = (System.nanoTime() - t0) / 1e9;
        header.put("seconds", seconds);
        TextFiles.write(s.outputDir() + "/" + REPORT, BestOfNReport.write(report.toJson(header)) + "\n", hconf);
        return new Result(report, s.outputDir(), seconds);
    }

    /** Streams the samples (in prompt order) into the three jsonl files, adding each prompt to the report. */
    private static void write(Iterator<BestOfNWorker.PromptSamples> samples, BestOfNSettings s, BestOfNReport report,
            Configuration hconf) throws IOException {
        String dir = s.outputDir();
        double kl = Frontier.klBound(s.n());
        try (Writer chosen = TextFiles.writer(dir + "/" + CHOSEN, hconf);
             Writer pairs = TextFiles.writer(dir + "/" + PAIRS, hconf);
             Writer all = TextFiles.writer(dir + "/" + SAMPLES, hconf)) {
            while (samples.hasNext()) {
                BestOfNWorker.PromptSamples p = samples.next();
                report.add(p);
                int best = p.best();
                int worst = p.worst();
                ObjectNode c = JSON.createObjectNode();
                c.put("prompt", p.prompt());
                c.put("response", p.responses()[best]);
                c.put("prompt_index", p.index());
                c.put("sample", best);
                c.put("reward", p.rewards()[best]);
                c.put("score", p.scores()[best]);
                c.put("score_mean", mean(p.scores()));
                c.put("kl_bound", kl);
                if (p.gold() != null) {
                    c.put("gold", p.gold()[best]);
                    c.put("gold_mean", mean(p.gold()));
                }
                line(chosen, c);
                if (p.scores()[worst] < p.scores()[best] && !p.responses()[worst].equals(p.responses()[best])) {
                    ObjectNode pr = JSON.createObjectNode();
                    pr.put("prompt", p.prompt());
                    pr.put("chosen", p.responses()[best]);
                    pr.put("rejected", p.responses()[worst]);
                    line(pairs, pr);
                }
                for (int j = 0; j < p.responses().length; j++) {
                    ObjectNode o = JSON.createObjectNode();
                    o.put("prompt_index", p.index());
                    o.put("sample", j);
                    o.put("prompt", p.prompt());
                    o.put("response", p.responses()[j]);
                    o.put("reward", p.rewards()[j]);
                    o.put("score", p.scores()[j]);
                    if (p.gold() != null) {
                        o.put("gold", p.gold()[j]);
                    }
                    ArrayNode ids = o.putArray("response_ids");
                    for (int id : p.ids()[j]) {
                        ids.add(id);
                    }
                    o.put("ended_with_eos", p.endedWithEos()[j]);
                    o.put("chosen", j == best);
                    line(all, o);
                }
            }
        }
        LOG.info("best-of-n: {} prompts written to {}", report.prompts(), dir);
    }

    private static double mean(double[] v) {
        double sum = 0;
        for (double x : v) {
            sum += x;
        }
        return sum / v.length;
    }

    private static void line(Writer w, ObjectNode o) throws IOException {
        w.write(JSON.writeValueAsString(o));
        w.write('\n');
    }
}
