package rlhf.pipeline;

import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

import rlhf.bestofn.BestOfNJob;
import rlhf.cli.Cli;
import rlhf.cli.InputPaths;
import rlhf.config.Args;
import rlhf.config.JobConfig;
import rlhf.config.SparkSessions;
import rlhf.dpo.DpoJob;
import rlhf.dpo.DpoSettings;
import rlhf.ppo.Algorithm;
import rlhf.ppo.PpoJob;
import rlhf.reward.RewardJob;
import rlhf.reward.RewardSettings;
import rlhf.sft.SftJob;
import rlhf.sft.SftSettings;

/**
 * The chain SFT -> reward model [-> DPO] [-> best-of-n] -> PPO [-> GRPO] [-> RLOO] as one Spark application:
 * {@code bin/rlhf pipeline --config FILE [--set k=v ...] [--resume]}, or
 * {@code spark-submit --class rlhf.pipeline.PipelineJob rlhf-pipeline.jar --config FILE}.
 * Keys: conf/pipeline.properties.
 *
 * <p>The recipe: read the chain configuration; start one Spark session; plan the stages
 * ({@link PipelinePlan}: each stage's configuration written and checked, and whether it runs,
 * resumes or is done); run them one after the other with the real jobs on that session.
 */
public final class PipelineJob {

    private PipelineJob() {
    }

    public static void main(String[] argv) {
        Cli.job("pipeline", argv, () -> {
            Args.Spec spec = Args.command("pipeline", "SFT -> reward model -> PPO on your own data, each stage resumable")
                    .optional("out", "run directory (default: output.dir of the configuration)");
            Args args = spec.parse(argv);
            if (args.help()) {
                System.out.print(spec.usage(JobConfig.defaults("pipeline")));
                return;
            }
            PipelinePlan.Settings s = PipelinePlan.load("pipeline", args.configFile(), args.sets());
            String out = args.get("out", s.own().getPath("output.dir"));
            List<String> stages = s.own().getList("stages");
            // every stage's local inputs now, not when the stage before it has trained for an hour
            for (Map.Entry<String, Map<String, String>> st : PipelinePlan.userValues(s, out, stages).entrySet()) {
                InputPaths.requireLocalInputs(st.getValue(), st.getKey() + ".");
            }
            long t0 = System.nanoTime();
            SparkSession spark = SparkSessions.create("rlhf pipeline", args.master(), s.own());
            try {
                Configuration hconf = spark.sparkContext().hadoopConfiguration();
                PipelinePlan.missingInputs(s, out, stages, hconf)
                        .forEach(w -> System.err.println("pipeline: warning: " + w));
                run(spark, PipelinePlan.plan(s, out, stages, Map.of(), args.resume(), hconf));
            } finally {
                spark.stop();
            }
            System.err.printf(Locale.ROOT, "pipeline: finished in %.0f s; run directory %s%n",
                    (System.nanoTime() - t0) / 1e9, out);
        });
    }

    /** Runs the planned stages in order on {@code spark}; a skipped stage is only announced. */
    public static void run(SparkSession spark, List<PipelinePlan.Step> steps) throws IOException {
        for (int i = 0; i < steps.size(); i++) {
            PipelinePlan.Step step = steps.get(i);
            String at = "pipeline: [" + (i + 1) + "/" + steps.size() + "] " + step.stage();
            if (step.action() == PipelinePlan.Action.SKIP) {
                System.err.println(at + ": already complete (" + step.outputDir() + "/"
                        + PipelinePlan.doneMarker(step.stage()) + "), skipped");
                continue;
            }
            boolean resume = step.action() == PipelinePlan.Action.RESUME;
            System.err.println(at + (resume ? " resumes from its newest checkpoint" : "") + " (" + step.configFile() + ")");
            long t0 = System.nanoTime();
            String summary = runStage(spark, step.stage(), JobConfig.load(step.stage(), step.configFile(), List.of()),
                    resume);
            System.err.println(summary);
            System.err.printf(Locale.ROOT, "%s done in %.0f s%n", at, (System.nanoTime() - t0) / 1e9);
        }
    }

    /** One stage's job on the running session; returns the job's summary line. */
    static String runStage(SparkSession spark, String stage, JobConfig config, boolean resume) throws IOException {
        return switch (stage) {
            case "sft" -> SftJob.run(spark, SftSettings.from(config), resume).summary();
            case "reward" -> RewardJob.run(spark, RewardSettings.from(config), resume).summary();
            case "ppo" -> PpoJob.run(spark, config, Algorithm.PPO, resume, null).summary();
            case "grpo" -> PpoJob.run(spark, config, Algorithm.GRPO, resume, null).summary();
            case "rloo" -> PpoJob.run(spark, config, Algorithm.RLOO, resume, null).summary();
            case PipelinePlan.DPO -> DpoJob.run(spark, DpoSettings.from(config), resume).summary();
            case PipelinePlan.BEST_OF_N -> BestOfNJob.run(spark, config).summary(); // one pass: nothing to resume
            default -> throw new IllegalArgumentException("unknown stage " + stage);
        };
    }
}
