package rlhf.demo;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import rlhf.cli.Cli;
import rlhf.bestofn.BestOfNJob;
import rlhf.config.Args;
import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.config.SparkSessions;
import rlhf.io.TextFiles;
import rlhf.pipeline.PipelineJob;
import rlhf.pipeline.PipelinePlan;
import rlhf.tokenizer.BpeTokenizer;
import rlhf.tokenizer.BpeTrainer;

/**
 * The demo as one Spark application: {@code bin/rlhf demo [--out RUN] [--set k=v]... [--resume]}.
 * The recipe: generate the task data with its held-out split ({@link DemoData}) into
 * {@code <run>/data}; train the BPE tokenizer on the corpus into {@code <run>/tokenizer}; plan the
 * three stages ({@link PipelinePlan}) with the data files wired in and run them with the real jobs
 * ({@link PipelineJob}) on the same Spark session; then evaluate with the exact oracle and write
 * the report ({@link DemoReport}). {@code <run>/conf/demo.properties} records the effective demo
 * keys for the report.
 *
 * <p>With {@code --resume}, data and tokenizer already present are kept (they are a pure function
 * of the configuration) and finished stages are skipped.
 */
public final class DemoSetup {

    /** The data files and the tokenizer under a run directory. */
    public static final String DATA = "data";
    public static final String TOKENIZER = "tokenizer";
    /** Best-of-n of the SFT model by the reward model on the held-out prompts. */
    public static final String BEST_OF_N = "best-of-n-heldout";

    private DemoSetup() {}

    /** The data configuration of the demo keys. */
    public static DemoData.Config dataConfig(JobConfig c) {
        DemoData.Config d = DemoData.Config.defaults(c.getLong("demo.seed"));
        return new DemoData.Config(d.seed(), c.getInt("demo.sft_train"), c.getInt("demo.sft_eval"),
                c.getInt("demo.prefs_train"), c.getInt("demo.prefs_eval"), c.getInt("demo.rankings_train"),
                c.getInt("demo.rank_k"), c.getInt("demo.ppo_prompts"), c.getInt("demo.heldout_prompts"),
                d.heldoutFraction(), d.hardFraction(), d.rates(), DemoData.families(c.getString("demo.families")));
    }

    /**
     * Where each stage finds the demo data: SFT the demonstrations and the tokenizer, the reward
     * model the pairs (or rankings), PPO the train-split prompts.
     */
    static Map<String, Map<String, String>> wiring(JobConfig c, String run) {
        String data = run + "/" + DATA + "/";
        Map<String, Map<String, String>> w = new LinkedHashMap<>();
        w.put("sft", Map.of("data.train", data + "sft_train.jsonl", "data.eval", data + "sft_eval.jsonl",
                "tokenizer.path", run + "/" + TOKENIZER));
        String rewardData = switch (c.getString("demo.reward_data")) {
            case "pairs" -> "prefs_train.jsonl";
            case "rankings" -> "rankings_train.jsonl";
            default -> throw new ConfigException("demo.reward_data = \"" + c.getString("demo.reward_data")
                    + "\" (from " + c.source("demo.reward_data") + "): expected pairs or rankings");
        };
        w.put("reward", Map.of("data.train", data + rewardData, "data.eval", data + "prefs_eval.jsonl"));
        w.put("ppo", Map.of(PPO_PROMPTS_KEY, data + "ppo_prompts.jsonl"));
        return w;
    }

    /** The PPO job's key for its prompt file. */
    static final String PPO_PROMPTS_KEY = "data.prompts";

    /** Generates data and tokenizer (unless present and resuming) and writes the plan; returns the plan. */
    public static List<PipelinePlan.Step> setup(SparkSession spark, PipelinePlan.Settings s, String run, boolean resume)
            throws IOException {
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        Path runDir = new Path(run);
        FileSystem fs = runDir.getFileSystem(hconf);
        if (!resume && fs.exists(runDir) && fs.listStatus(runDir).length > 0) {
            throw new ConfigException("run directory " + run + " is not empty: continue it with --resume, or give"
                    + " another --out");
        }
        JobConfig c = s.own();
        DemoData.Config dc = dataConfig(c);
        Map<String, Map<String, String>> wiring = wiring(c, run);
        Path heldout = new Path(run + "/" + DATA + "/heldout_prompts.jsonl");
        Path vocab = new Path(run + "/" + TOKENIZER + "/" + BpeTokenizer.VOCAB_FILE);
        DemoData.Generated g = DemoData.generate(dc);
        if (!(resume && fs.exists(heldout))) {
            DemoData.write(g, run + "/" + DATA);
            System.err.printf(Locale.ROOT, "demo: wrote the task data to %s/%s: %d demonstrations, %d preference pairs,"
                            + " %d PPO prompts, %d held-out prompts%n", run, DATA, dc.sftTrain(), dc.prefsTrain(),
                    dc.ppoPrompts(), dc.heldoutPrompts());
        }
        System.err.printf(Locale.ROOT, "demo: held-out accuracy of exact imitation of the demonstrators: %.1f%% sampled,"
                        + " %.1f%% greedy; reachable by re-weighting them: %.1f%%%n",
                100 * MistakeModel.imitationAccuracy(g.heldoutPrompts(), dc.rates()),
                100 * MistakeModel.imitationGreedyAccuracy(g.heldoutPrompts(), dc.rates()),
                100 * MistakeModel.bestReachableAccuracy(g.heldoutPrompts(), dc.rates()));
        if (!(resume && fs.exists(vocab))) {
            trainTokenizer(spark, g.corpus(), c.getInt("tokenizer.vocab_size"), run + "/" + TOKENIZER, hconf);
        }
        TextFiles.write(run + "/conf/demo.properties", effective(c), hconf);
        return PipelinePlan.plan(s, run, PipelinePlan.DEFAULT_STAGES, wiring, resume, hconf);
    }

    /**
     * The SFT model's best of {@code eval.best_of} samples by the reward model on the held-out
     * prompts, graded by the oracle ({@link ExactAnswer}), sampled as the evaluation samples; skipped
     * when done (a resumed run) or set to 0.
     */
    static void bestOfN(SparkSession spark, JobConfig c, String run) throws IOException {
        int n = c.getInt("eval.best_of");
        String out = run + "/" + BEST_OF_N;
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        if (n < 1 || BestOfNJob.isComplete(out, hconf)) {
            return;
        }
        JobConfig b = JobConfig.defaults("best-of-n");
        b.set("data.prompts", run + "/" + DATA + "/heldout_prompts.jsonl", "the demo");
        b.set("data.template", c.getString("data.template"), "the demo");
        b.set("model.policy", DemoReport.stageDir(run, "sft") + "/" + PipelinePlan.FINAL, "the demo");
        b.set("model.reward", DemoReport.stageDir(run, "reward") + "/" + PipelinePlan.FINAL, "the demo");
        b.set("gen.n", Integer.toString(n), "eval.best_of");
        b.set("gen.max_new_tokens", c.getString("eval.max_new_tokens"), "eval.max_new_tokens");
        b.set("gen.batch", c.getString("eval.batch_size"), "eval.batch_size");
        b.set("gen.seed", c.getString("eval.seed"), "eval.seed");
        b.set("eval.gold_rule", ExactAnswer.class.getName(), "the demo");
        b.set("output.dir", out, "the demo");
        System.err.println(BestOfNJob.run(spark, b).summary());
    }

    private static void trainTokenizer(SparkSession spark, List<String> corpus, int vocabSize, String dir,
                                       Configuration hconf) throws IOException {
        long t0 = System.nanoTime();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        BpeTokenizer tok = BpeTrainer.train(sc.parallelize(corpus), vocabSize);
        Path d = new Path(dir);
        tok.save(d.getFileSystem(hconf), d);
        System.err.printf(Locale.ROOT, "demo: trained a %d-token BPE tokenizer on %d texts in %.1f s -> %s%n",
                tok.vocabSize(), corpus.size(), (System.nanoTime() - t0) / 1e9, dir);
    }

    /** Every declared demo key with its value, as a properties file the report reads back. */
    static String effective(JobConfig c) {
        StringBuilder b = new StringBuilder("# Effective demo keys of this run (rlhf.demo.DemoSetup).\n");
        for (String k : c.keys().keySet()) {
            if (PipelinePlan.stageOf(k) == null) {
                b.append(k).append(" = ").append(c.getString(k)).append('\n');
            }
        }
        return b.toString();
    }

    /**
     * {@code DemoSetup --out RUN [--config FILE] [--set k=v]... [--resume] [--master URL]}: data,
     * tokenizer, the three stages, evaluation and report, in one Spark application.
     */
    public static void main(String[] argv) {
        Cli.job("demo", argv, () -> {
            Args.Spec spec = Args.command("demo", "the bundled demo: task data, tokenizer, SFT -> reward model -> PPO,"
                    + " evaluation with the exact oracle, report")
                    .required("out", "run directory (bin/rlhf demo defaults it to runs/demo-<timestamp>)");
            Args args = spec.parse(argv);
            if (args.help()) {
                System.out.print(spec.usage(JobConfig.defaults("demo")));
                return;
            }
            PipelinePlan.Settings s = PipelinePlan.load("demo", args.configFile(), args.sets());
            String run = args.get("out").replaceAll("/+$", "");
            long t0 = System.nanoTime();
            SparkSession spark = SparkSessions.create("rlhf demo", args.master(), s.own());
            try {
                PipelineJob.run(spark, setup(spark, s, run, args.resume()));
                bestOfN(spark, s.own(), run);
            } finally {
                spark.stop();
            }
            DemoReport.run(run);
            System.err.printf(Locale.ROOT, "demo: finished in %.0f s; run directory %s%n",
                    (System.nanoTime() - t0) / 1e9, run);
        });
    }
}
