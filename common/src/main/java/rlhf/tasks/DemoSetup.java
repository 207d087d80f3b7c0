package rlhf.tasks;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import rlhf.config.Args;
import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.config.SparkSessions;
import rlhf.tokenizer.BpeTokenizer;
import rlhf.tokenizer.BpeTrainer;

/**
 * The demo's first steps ({@code bin/rlhf demo} runs it, then the stages, then {@link DemoReport}):
 * generates the task data with its held-out split ({@link DemoData}) into {@code <run>/data}, trains
 * the BPE tokenizer on the corpus into {@code <run>/tokenizer} (Spark local mode), and plans the
 * three stages ({@link PipelinePlan}) with the data files wired in. {@code <run>/conf/demo.properties}
 * records the effective demo keys for the report.
 *
 * <p>With {@code --resume}, data and tokenizer already present are kept (they are a pure function
 * of the configuration) and finished stages are skipped.
 */
public final class DemoSetup {

    /** The data files and the tokenizer under a run directory. */
    public static final String DATA = "data";
    public static final String TOKENIZER = "tokenizer";

    private DemoSetup() {}

    /** The data configuration of the demo keys. */
    public static DemoData.Config dataConfig(JobConfig c) {
        DemoData.Config d = DemoData.Config.defaults(c.getLong("demo.seed"));
        return new DemoData.Config(d.seed(), c.getInt("demo.sft_train"), c.getInt("demo.sft_eval"),
                c.getInt("demo.prefs_train"), c.getInt("demo.prefs_eval"), c.getInt("demo.rankings_train"),
                c.getInt("demo.rank_k"), c.getInt("demo.ppo_prompts"), c.getInt("demo.heldout_prompts"),
                d.heldoutFraction(), d.hardFraction(), d.rates());
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
    public static List<PipelinePlan.Step> setup(PipelinePlan.Settings s, String run, boolean resume, String master)
            throws IOException {
        Configuration hconf = new Configuration();
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
            trainTokenizer(g.corpus(), c.getInt("tokenizer.vocab_size"), run + "/" + TOKENIZER, master, hconf);
        }
        PipelinePlan.writeText(run + "/conf/demo.properties", effective(c), hconf);
        return PipelinePlan.plan(s, run, PipelinePlan.STAGES, wiring, resume, hconf);
    }

    private static void trainTokenizer(List<String> corpus, int vocabSize, String dir, String master,
                                       Configuration hconf) throws IOException {
        long t0 = System.nanoTime();
        SparkSession spark = SparkSessions.create("rlhf demo: tokenizer", master, null);
        BpeTokenizer tok;
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            tok = BpeTrainer.train(sc.parallelize(corpus), vocabSize);
        } finally {
            spark.stop();
        }
        Path d = new Path(dir);
        tok.save(d.getFileSystem(hconf), d);
        System.err.printf(Locale.ROOT, "demo: trained a %d-token BPE tokenizer on %d texts in %.1f s -> %s%n",
                tok.vocabSize(), corpus.size(), (System.nanoTime() - t0) / 1e9, dir);
    }

    /** Every declared demo key with its value, as a properties file the report reads back. */
    static String effective(JobConfig c) {
        StringBuilder b = new StringBuilder("# Effective demo keys of this run (rlhf.tasks.DemoSetup).\n");
        for (String k : c.keys().keySet()) {
            if (PipelinePlan.stageOf(k) == null) {
                b.append(k).append(" = ").append(c.getString(k)).append('\n');
            }
        }
        return b.toString();
    }

    /**
     * {@code DemoSetup --out RUN [--config FILE] [--set k=v]... [--resume] [--master URL]}: data,
     * tokenizer and the stage plan; prints the plan file's path on stdout.
     */
    public static void main(String[] argv) throws IOException {
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
        List<PipelinePlan.Step> steps = setup(s, run, args.resume(), args.master());
        List<String> lines = new ArrayList<>();
        for (PipelinePlan.Step p : steps) {
            lines.add(p.stage() + " " + p.action().name().toLowerCase(Locale.ROOT));
        }
        System.err.println("demo: plan: " + String.join(", ", lines));
        System.out.println(run + "/conf/plan.txt");
    }
}
