package rlhf.demo;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import rlhf.bestofn.BestOfNJob;
import rlhf.config.Args;
import rlhf.config.JobConfig;
import rlhf.data.PromptTemplate;
import rlhf.io.Checkpoint;
import rlhf.io.RunCheckpoints;
import rlhf.io.TextFiles;
import rlhf.metrics.BestOfNFrontier;
import rlhf.metrics.Chart;
import rlhf.metrics.MetricsLog;
import rlhf.metrics.Report;
import rlhf.pipeline.PipelinePlan;

/**
 * The demo's last step: evaluates the untrained (random init), SFT and PPO policies on the
 * held-out prompts with the exact oracle, greedy and sampled at temperature 1
 * ({@link PolicyEvaluation}); the reward model's pairwise accuracy on held-out pairs
 * ({@link RewardModelEvaluation}); the gold accuracy of every PPO checkpoint; and writes
 * {@code <run>/report/index.html} (curves of the three stages, tables, sample generations before
 * and after PPO), {@code <run>/report/summary.json} and {@code <run>/eval/*.jsonl} (every graded
 * completion), and prints the summary table.
 *
 * <p>{@code bin/rlhf demo-report --run RUN} redraws it for a finished (or partly finished) run.
 */
public final class DemoReport {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The demo's targets: PPO sampled accuracy over SFT's, and the reward model's held-out accuracy. */
    public static final double TARGET_PPO_GAIN = 0.15;
    public static final double TARGET_REWARD_ACCURACY = 0.85;

    private DemoReport() {}

    /** One policy's greedy and sampled evaluation. */
    public record PolicyScores(String name, PolicyEvaluation.Result greedy, PolicyEvaluation.Result sampled) {}

    /**
     * The SFT model's best of n samples by the reward model on the held-out prompts
     * ({@link DemoSetup#bestOfN}): exact accuracy of one sample and of the choice, and its KL bound.
     */
    public record BestOfN(int n, double oneSample, double chosen, double klBound) {}

    /** Everything the report shows. */
    public record Summary(List<PolicyScores> policies, RewardModelEvaluation.Result rewardModel,
                          double imitationSampled, double imitationGreedy, List<double[]> ppoGold, BestOfN bestOfN) {

        PolicyScores policy(String name) {
            return policies.stream().filter(p -> p.name().equals(name)).findFirst().orElse(null);
        }
    }

    /** Evaluates what the run has produced so far and writes the report; returns the summary. */
    public static Summary run(String run) throws IOException {
        Configuration hconf = new Configuration();
        JobConfig c = JobConfig.load("demo", run + "/conf/demo.properties", List.of());
        PromptTemplate template = PromptTemplate.of(c.getString("data.template"));
        PolicyEvaluation.Settings greedy = new PolicyEvaluation.Settings(template, 0f, 1,
                c.getInt("eval.max_new_tokens"), c.getInt("eval.batch_size"), c.getLong("eval.seed"));
        PolicyEvaluation.Settings sampled = new PolicyEvaluation.Settings(template, 1f, c.getInt("eval.samples"),
                c.getInt("eval.max_new_tokens"), c.getInt("eval.batch_size"), c.getLong("eval.seed"));
        String data = run + "/" + DemoSetup.DATA;
        List<String> prompts = PolicyEvaluation.readPrompts(data + "/heldout_prompts.jsonl", hconf);
        Oracle oracle = new Oracle();
        List<Problem> problems = prompts.stream().map(oracle::problem).toList();
        DemoData.Config dc = DemoSetup.dataConfig(c);

        // 1. the policies
        List<PolicyScores> policies = new ArrayList<>();
        String sftFinal = stageDir(run, "sft") + "/" + PipelinePlan.FINAL;
        String ppoFinal = stageDir(run, "ppo") + "/" + PipelinePlan.FINAL;
        if (complete(sftFinal, hconf)) {
            PolicyEvaluation.Policy sft = PolicyEvaluation.load(sftFinal, hconf);
            policies.add(score("random init", sft.randomInit("random init", sftSeed(run)), prompts, greedy, sampled,
                    run, oracle, hconf));
            policies.add(score("SFT", sft, prompts, greedy, sampled, run, oracle, hconf));
        }
        if (complete(ppoFinal, hconf)) {
            policies.add(score("PPO", PolicyEvaluation.load(ppoFinal, hconf), prompts, greedy, sampled, run, oracle,
                    hconf));
        }

        // 2. the reward model on held-out pairs
        String rmFinal = stageDir(run, "reward") + "/" + PipelinePlan.FINAL;
        RewardModelEvaluation.Result rm = null;
        if (complete(rmFinal, hconf)) {
            rm = RewardModelEvaluation.evaluate(rmFinal, RewardModelEvaluation.readPairs(data + "/prefs_eval.jsonl",
                    hconf), template, c.getInt("eval.batch_size"), hconf);
        }

        // 3. gold accuracy of every PPO checkpoint (greedy, sampled), with the SFT model as iteration 0
        List<double[]> gold = ppoGold(run, policies, prompts, greedy, sampled, oracle, hconf);

        Summary s = new Summary(policies, rm, MistakeModel.imitationAccuracy(problems, dc.rates()),
                MistakeModel.imitationGreedyAccuracy(problems, dc.rates()), gold, bestOfN(run, hconf));
        write(run, c, s, hconf);
        System.out.print(table(s));
        return s;
    }

    private static PolicyScores score(String name, PolicyEvaluation.Policy p, List<String> prompts,
                                      PolicyEvaluation.Settings greedy, PolicyEvaluation.Settings sampled, String run,
                                      Oracle oracle, Configuration hconf) throws IOException {
        long t0 = System.nanoTime();
        PolicyEvaluation.Result g = PolicyEvaluation.evaluate(p, prompts, greedy, oracle);
        PolicyEvaluation.Result s = PolicyEvaluation.evaluate(p, prompts, sampled, oracle);
        String file = name.toLowerCase(Locale.ROOT).replace(' ', '-');
        PolicyEvaluation.writeCompletions(g.completions(), run + "/eval/" + file + "-greedy.jsonl", hconf);
        PolicyEvaluation.writeCompletions(s.completions(), run + "/eval/" + file + "-sampled.jsonl", hconf);
        System.err.printf(Locale.ROOT, "demo: evaluated %s on %d held-out prompts in %.1f s: accuracy %.1f%% greedy,"
                        + " %.1f%% sampled%n", name, prompts.size(), (System.nanoTime() - t0) / 1e9,
                100 * g.scores().overall().accuracy(), 100 * s.scores().overall().accuracy());
        return new PolicyScores(name, g, s);
    }

    /** Rows {iteration, greedy accuracy, sampled accuracy} for SFT (0) and each PPO checkpoint. */
    private static List<double[]> ppoGold(String run, List<PolicyScores> policies, List<String> prompts,
                                          PolicyEvaluation.Settings greedy, PolicyEvaluation.Settings sampled,
                                          Oracle oracle, Configuration hconf) throws IOException {
        List<double[]> rows = new ArrayList<>();
        PolicyScores sft = policies.stream().filter(p -> p.name().equals("SFT")).findFirst().orElse(null);
        if (sft == null) {
            return rows;
        }
        rows.add(new double[] {0, sft.greedy().scores().overall().accuracy(), sft.sampled().scores().overall().accuracy()});
        // one sample per prompt for the checkpoints: the curve's points cost less than the final evaluation
        PolicyEvaluation.Settings once = new PolicyEvaluation.Settings(sampled.template(), sampled.temperature(), 1,
                sampled.maxNewTokens(), sampled.batchSize(), sampled.seed());
        for (long step : new RunCheckpoints(stageDir(run, "ppo"), 0, 0, hconf).completeSteps()) {
            PolicyEvaluation.Policy p = PolicyEvaluation.load(stageDir(run, "ppo") + "/" + RunCheckpoints.PREFIX + step,
                    hconf);
            rows.add(new double[] {step, PolicyEvaluation.evaluate(p, prompts, greedy, oracle).scores().overall()
                    .accuracy(), PolicyEvaluation.evaluate(p, prompts, once, oracle).scores().overall().accuracy()});
        }
        return rows;
    }

    /** The output directory a stage ran in (its written config, else the pipeline's default). */
    /** The best-of-n result of the run (its report's frontier), or null when it has none. */
    private static BestOfN bestOfN(String run, Configuration hconf) throws IOException {
        String dir = run + "/" + DemoSetup.BEST_OF_N;
        if (!BestOfNJob.isComplete(dir, hconf)) {
            return null;
        }
        BestOfNFrontier f = BestOfNFrontier.read(dir + "/" + BestOfNJob.REPORT, hconf);
        if (f.gold() == null) {
            throw new IllegalStateException(dir + " was sampled without the oracle as its gold rule");
        }
        int n = f.n();
        return new BestOfN(n, f.gold()[0], f.gold()[n - 1], f.kl()[n - 1]);
    }

    static String stageDir(String run, String stage) {
        try {
            JobConfig f = JobConfig.defaultsFromPath(run + "/conf/" + stage + ".properties");
            if (f.isDeclared("output.dir")) {
                return f.getString("output.dir").replaceAll("/+$", "");
            }
        } catch (RuntimeException e) {
            // no plan written for this stage: the default place
        }
        return run + "/" + stage;
    }

    /** The seed SFT initialised its random model with (its train.seed). */
    private static long sftSeed(String run) {
        try {
            JobConfig f = JobConfig.defaultsFromPath(run + "/conf/sft.properties");
            if (f.isDeclared("train.seed")) {
                return f.getLong("train.seed");
            }
        } catch (RuntimeException e) {
            // fall through to the stage's default
        }
        JobConfig d = PipelinePlan.stageDefaults("sft");
        return d != null && d.isDeclared("train.seed") ? d.getLong("train.seed") : 1234L;
    }

    private static boolean complete(String dir, Configuration hconf) throws IOException {
        Path p = new Path(dir);
        FileSystem fs = p.getFileSystem(hconf);
        return fs.exists(p) && Checkpoint.isComplete(fs, p);
    }

    // ---------------------------------------------------------------- output

    /** The summary table printed at the end of the demo. */
    public static String table(Summary s) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%n%-14s %12s %12s %12s %12s%n", "held-out", "greedy acc", "greedy gold",
                "T=1 acc", "T=1 gold"));
        for (PolicyScores p : s.policies()) {
            Evaluation.Stats g = p.greedy().scores().overall();
            Evaluation.Stats t = p.sampled().scores().overall();
            b.append(String.format(Locale.ROOT, "%-14s %11.1f%% %12.3f %11.1f%% %12.3f%n", p.name(), 100 * g.accuracy(),
                    g.meanReward(), 100 * t.accuracy(), t.meanReward()));
        }
        if (s.bestOfN() != null) {
            b.append(String.format(Locale.ROOT, "%-14s %12s %12s %11.1f%% %12s%n", "best-of-" + s.bestOfN().n() + " SFT†",
                    "", "", 100 * s.bestOfN().chosen(), ""));
        }
        b.append(String.format(Locale.ROOT, "%-14s %11.1f%% %12s %11.1f%% %12s%n", "imitation*", 100 * s.imitationGreedy(),
                "", 100 * s.imitationSampled(), ""));
        if (s.rewardModel() != null) {
            b.append(String.format(Locale.ROOT, "reward model: %.1f%% pairwise accuracy on %d held-out pairs (mean margin"
                    + " %.2f)%n", 100 * s.rewardModel().accuracy(), s.rewardModel().n(), s.rewardModel().meanMargin()));
        }
        b.append("* exact imitation of the demonstrators (rlhf.demo.MistakeModel), what a perfect SFT reaches\n");
        if (s.bestOfN() != null) {
            b.append(String.format(Locale.ROOT, "† the SFT model's best of %d samples by the reward model (KL <= %.2f nats),"
                    + " the yardstick of PPO%n", s.bestOfN().n(), s.bestOfN().klBound()));
        }
        for (String check : checks(s)) {
            b.append(check).append('\n');
        }
        return b.toString();
    }

    /** The demo's targets with PASS/FAIL, for what has been measured. */
    static List<String> checks(Summary s) {
        List<String> out = new ArrayList<>();
        PolicyScores sft = s.policy("SFT");
        PolicyScores ppo = s.policy("PPO");
        if (sft != null && ppo != null) {
            double gain = ppo.sampled().scores().overall().accuracy() - sft.sampled().scores().overall().accuracy();
            out.add(String.format(Locale.ROOT, "%s PPO sampled accuracy %+.1f points over SFT (target >= +%.0f)",
                    gain >= TARGET_PPO_GAIN ? "PASS" : "FAIL", 100 * gain, 100 * TARGET_PPO_GAIN));
            double g = ppo.greedy().scores().overall().accuracy() - sft.greedy().scores().overall().accuracy();
            out.add(String.format(Locale.ROOT, "%s PPO greedy accuracy %+.1f points over SFT (target: not below)",
                    g >= 0 ? "PASS" : "FAIL", 100 * g));
        }
        if (ppo != null && s.bestOfN() != null) {
            double d = ppo.sampled().scores().overall().accuracy() - s.bestOfN().chosen();
            out.add(String.format(Locale.ROOT, "%s PPO sampled accuracy %+.1f points over best-of-%d by the same reward "
                    + "model (the yardstick; not one of the demo's targets)", d >= 0 ? "AHEAD " : "BEHIND", 100 * d,
                    s.bestOfN().n()));
        }
        if (s.rewardModel() != null) {
            double a = s.rewardModel().accuracy();
            out.add(String.format(Locale.ROOT, "%s reward model held-out pairwise accuracy %.1f%% (target >= %.0f%%)",
                    a >= TARGET_REWARD_ACCURACY ? "PASS" : "FAIL", 100 * a, 100 * TARGET_REWARD_ACCURACY));
        }
        return out;
    }

    private static void write(String run, JobConfig c, Summary s, Configuration hconf) throws IOException {
        Report r = new Report("RLHF demo: " + new Path(run).getName());
        r.text("Summary", table(s));

        // curves of the three stages
        String sftMetrics = stageDir(run, "sft") + "/metrics.jsonl";
        String rmMetrics = stageDir(run, "reward") + "/metrics.jsonl";
        String ppoMetrics = stageDir(run, "ppo") + "/metrics.jsonl";
        chart(r, "SFT loss", "step", sftMetrics, List.of("loss", "eval_loss"), hconf);
        chart(r, "Reward model pairwise accuracy", "step", rmMetrics, List.of("accuracy", "eval_accuracy"), hconf);
        chart(r, "PPO: reward-model score of the rollouts (raw, and normalised as PPO uses it)", "iteration",
                ppoMetrics,
                List.of("raw_score_mean", "score_mean"), hconf);
        chart(r, "PPO: KL to the SFT reference (nats per response)", "iteration", ppoMetrics, List.of("kl"), hconf);
        chart(r, "PPO: KL coefficient beta", "iteration", ppoMetrics, List.of("beta"), hconf);
        chart(r, "PPO: total reward (score - beta KL)", "iteration", ppoMetrics, List.of("reward_total_mean"), hconf);
        if (s.ppoGold().size() > 1) {
            double[] x = new double[s.ppoGold().size()];
            double[] g = new double[x.length];
            double[] t = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                x[i] = s.ppoGold().get(i)[0];
                g[i] = s.ppoGold().get(i)[1];
                t[i] = s.ppoGold().get(i)[2];
            }
            r.chart("Gold (oracle) accuracy on held-out prompts per PPO iteration", "PPO iteration", "accuracy",
                    List.of(new Chart.Series("greedy", x, g), new Chart.Series("sampled T=1", x, t)));
        }

        // per sub-family: where the systematic mistakes were (un)learned
        List<String> header = new ArrayList<>(List.of("group"));
        for (PolicyScores p : s.policies()) {
            header.add(p.name() + " greedy");
            header.add(p.name() + " T=1");
        }
        List<List<String>> rows = new ArrayList<>();
        if (!s.policies().isEmpty()) {
            Evaluation.Result first = s.policies().get(0).greedy().scores();
            List<String> groups = new ArrayList<>(List.of("all"));
            groups.addAll(first.byFamily().keySet());
            groups.addAll(first.bySubfamily().keySet());
            for (String grp : groups) {
                List<String> row = new ArrayList<>(List.of(grp));
                for (PolicyScores p : s.policies()) {
                    row.add(pct(stats(p.greedy().scores(), grp)));
                    row.add(pct(stats(p.sampled().scores(), grp)));
                }
                rows.add(row);
            }
            r.table("Exact accuracy on held-out prompts by family and sub-family", header, rows);
        }

        // sample generations before and after PPO
        PolicyScores sft = s.policy("SFT");
        PolicyScores ppo = s.policy("PPO");
        if (sft != null) {
            int show = Math.min(c.getInt("eval.show"), sft.greedy().completions().size());
            int k = sft.sampled().settings().samples();
            List<List<String>> samples = new ArrayList<>();
            for (int i = 0; i < show; i++) {
                List<String> row = new ArrayList<>();
                PolicyEvaluation.Completion g = sft.greedy().completions().get(i);
                row.add(g.prompt());
                row.add(new Oracle().problem(g.prompt()).answer());
                row.add(shown(g));
                row.add(shown(sft.sampled().completions().get(i * k)));
                if (ppo != null) {
                    row.add(shown(ppo.greedy().completions().get(i)));
                    row.add(shown(ppo.sampled().completions().get(i * k)));
                }
                samples.add(row);
            }
            List<String> h = new ArrayList<>(List.of("prompt", "answer", "SFT greedy", "SFT T=1"));
            if (ppo != null) {
                h.addAll(List.of("PPO greedy", "PPO T=1"));
            }
            r.table("Sample generations on held-out prompts (oracle score in brackets)", h, samples);
        }
        r.text("Files", "data: " + run + "/" + DemoSetup.DATA + "\nstage configurations: " + run + "/conf\nmetrics: "
                + sftMetrics + ", " + rmMetrics + ", " + ppoMetrics + "\ngraded completions: " + run + "/eval");
        String index = r.write(run + "/report");
        TextFiles.write(run + "/report/summary.json", summaryJson(s), hconf);
        System.err.println("demo: report written to " + index);
    }

    private static Evaluation.Stats stats(Evaluation.Result r, String group) {
        if (group.equals("all")) {
            return r.overall();
        }
        Evaluation.Stats s = r.byFamily().get(group);
        return s != null ? s : r.bySubfamily().get(group);
    }

    private static String pct(Evaluation.Stats s) {
        return s == null ? "" : String.format(Locale.ROOT, "%.1f%%", 100 * s.accuracy());
    }

    private static String shown(PolicyEvaluation.Completion c) {
        return c.completion() + "  [" + c.score() + "]";
    }

    /** Draws the named metrics of one metrics file in one chart, if the file has any of them. */
    private static void chart(Report r, String title, String xLabel, String file, List<String> metrics,
                              Configuration hconf) throws IOException {
        Path p = new Path(file);
        if (!p.getFileSystem(hconf).exists(p)) {
            return;
        }
        List<MetricsLog.Record> recs = MetricsLog.read(file);
        List<Chart.Series> series = new ArrayList<>();
        for (String m : metrics) {
            List<double[]> pts = new ArrayList<>();
            for (MetricsLog.Record rec : recs) {
                double v = rec.get(m);
                if (!Double.isNaN(v)) {
                    pts.add(new double[] {rec.step(), v});
                }
            }
            if (!pts.isEmpty()) {
                double[] x = new double[pts.size()];
                double[] y = new double[pts.size()];
                for (int i = 0; i < x.length; i++) {
                    x[i] = pts.get(i)[0];
                    y[i] = pts.get(i)[1];
                }
                series.add(new Chart.Series(m, x, y));
            }
        }
        if (!series.isEmpty()) {
            r.chart(title, xLabel, String.join(", ", metrics), series);
        }
    }

    private static String summaryJson(Summary s) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode pol = root.putObject("policies");
        for (PolicyScores p : s.policies()) {
            ObjectNode o = pol.putObject(p.name());
            o.set("greedy", JSON.valueToTree(new LinkedHashMap<>(p.greedy().scores().metrics())));
            o.set("sampled", JSON.valueToTree(new LinkedHashMap<>(p.sampled().scores().metrics())));
        }
        if (s.rewardModel() != null) {
            ObjectNode rm = root.putObject("reward_model");
            rm.put("pairs", s.rewardModel().n());
            rm.put("accuracy", s.rewardModel().accuracy());
            rm.put("mean_margin", s.rewardModel().meanMargin());
        }
        if (s.bestOfN() != null) {
            ObjectNode b = root.putObject("best_of_n");
            b.put("n", s.bestOfN().n());
            b.put("accuracy_one_sample", s.bestOfN().oneSample());
            b.put("accuracy_chosen", s.bestOfN().chosen());
            b.put("kl_bound", s.bestOfN().klBound());
        }
        root.put("imitation_accuracy_sampled", s.imitationSampled());
        root.put("imitation_accuracy_greedy", s.imitationGreedy());
        var gold = root.putArray("ppo_gold_accuracy");
        for (double[] g : s.ppoGold()) {
            ObjectNode o = gold.addObject();
            o.put("iteration", (long) g[0]);
            o.put("greedy", g[1]);
            o.put("sampled", g[2]);
        }
        var checks = root.putArray("checks");
        checks(s).forEach(checks::add);
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
    }

    /** {@code demo-report --run RUN}: evaluates and reports what the run has produced. */
    public static void main(String[] argv) throws IOException {
        Args.Spec spec = Args.command("demo-report", "evaluate a demo run with the exact oracle and write its report")
                .required("run", "the demo's run directory");
        Args args = spec.parse(argv);
        if (args.help()) {
            System.out.print(spec.usage(null));
            return;
        }
        run(args.get("run").replaceAll("/+$", ""));
    }
}
