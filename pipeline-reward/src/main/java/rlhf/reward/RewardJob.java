package rlhf.reward;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.cli.Cli;
import rlhf.config.Args;
import rlhf.data.DatasetSource;
import rlhf.data.Examples;
import rlhf.data.PreferenceGroups;
import rlhf.data.PromptTemplate;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.io.RewardScale;
import rlhf.io.RunCheckpoints;
import rlhf.model.GptConfig;
import rlhf.model.RewardScorer;
import rlhf.spark.ModelStart;
import rlhf.spark.StageLoop;
import rlhf.spark.StageStart;
import rlhf.spark.StepResult;
import rlhf.spark.TrainingSettings;

/**
 * The reward model: {@code bin/rlhf reward --config FILE [--set k=v ...] [--resume]}, or
 * {@code spark-submit --class rlhf.reward.RewardJob rlhf-pipeline-reward.jar ...}. Keys:
 * conf/reward.properties.
 *
 * <p>The recipe ({@link #run}): load the configuration; read the preferences (pairs or K-wise
 * rankings); start from the newest checkpoint (--resume) or the SFT/pretrained model with a
 * scalar head added ({@link ScoreHead}); tokenize and cache the prompt groups on the executors;
 * hand the data-parallel trainer the ranking loss ({@link RewardLoss}); evaluate (pairwise
 * accuracy, margin, reward mean/std), log and checkpoint as it goes; record the reward mean and
 * std over the training answers in config.json; save the reward model.
 *
 * <p>config.json of every checkpoint records {@code rlhf_reward_appends_eos = true}: answers are
 * scored at their EOS, appended to prompt ++ response, and {@code bin/rlhf score}, PPO and
 * {@link RewardScoring} score the same way ({@link RewardScorer}). The final model also records
 * {@code rlhf_reward_mean} and {@code rlhf_reward_std} (over the training answers, each once) so
 * that PPO can normalise rewards, and {@code rlhf_prompt_template} (the template the prompts
 * were formatted with).
 */
public final class RewardJob {

    private static final Logger LOG = LoggerFactory.getLogger(RewardJob.class);

    public static final String TEMPLATE_KEY = "rlhf_prompt_template";

    private RewardJob() {
    }

    public static void main(String[] argv) {
        Cli.job("reward", Args.command("reward", "reward model on pairwise or K-wise ranked preferences"), argv,
                RewardSettings::from, (args, settings, cfg, spark) ->
                        System.err.println(run(spark, settings, args.resume()).summary()));
    }

    /** One evaluation: after {@code step} steps. */
    public record EvalPoint(int step, RewardEval.Result result) {
    }

    /**
     * What a run did.
     *
     * @param params     the weights after the last step
     * @param losses     training loss of each step this invocation ran
     * @param trainStats reward statistics over the training answers at the end (null if stopped early)
     * @param finalDir   the reward model, or null when the run stopped early
     */
    public record Result(float[] params, int step, int totalSteps, PreferenceGroups.Report train,
            PreferenceGroups.Report eval,
            List<Double> losses, List<EvalPoint> evals, RewardEval.Result trainStats, String finalDir,
            ModelConfigJson config) {

        public String summary() {
            StringBuilder sb = new StringBuilder("reward: " + step + "/" + totalSteps + " steps");
            if (!losses.isEmpty()) {
                sb.append(String.format(Locale.ROOT, ", last train loss %.4f", losses.get(losses.size() - 1)));
            }
            if (!evals.isEmpty()) {
                EvalPoint a = evals.get(0);
                EvalPoint b = evals.get(evals.size() - 1);
                sb.append(String.format(Locale.ROOT, ", eval accuracy %.3f (step %d) -> %.3f (step %d), margin %.3f",
                        a.result().accuracy(), a.step(), b.result().accuracy(), b.step(), b.result().meanMargin()));
            }
            if (trainStats != null) {
                sb.append(String.format(Locale.ROOT, ", training rewards mean %.4f std %.4f", trainStats.rewardMean(),
                        trainStats.rewardStd()));
            }
            sb.append(finalDir != null ? ", model saved to " + finalDir : ", stopped early (continue with --resume)");
            return sb.toString();
        }
    }

    /** The whole job on a running session (tests call it with their own session). */
    public static Result run(SparkSession spark, RewardSettings s, boolean resume) throws IOException {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hconf = sc.hadoopConfiguration();
        TrainingSettings t = s.training();
        RunCheckpoints checkpoints = new RunCheckpoints(t.outputDir(), t.checkpointEvery(), t.keepLast(), hconf);

        // 1. preference rows, and the model + tokenizer we start from
        PromptTemplate template = DatasetSource.template(s.config(), spark);
        Examples<PreferenceGroups.TextGroup> trainRows = PreferenceGroups.read(spark, s.trainPath(), s.preferences(), template);
        StageStart start = resume
                ? StageStart.resume("reward", checkpoints, hconf, config -> config.model().scoreHead() ? null : "score head")
                : fresh(s, checkpoints, trainRows, hconf);
        start = start.withConfig(start.config().withExtra(RewardScorer.APPENDS_EOS_KEY, true)
                .withExtra(TEMPLATE_KEY, template.name()));
        GptConfig model = start.config().model();
        LOG.info("reward model: {} layers, {} heads, width {}, vocabulary {}, {} parameters{}", model.nLayer(),
                model.nHead(), model.nEmbd(), model.vocabSize(), start.params().length,
                resume ? " (resumed at step " + start.trainerState().path("step").asInt() + ")" : "");

        // 2. tokenized prompt groups, cached on the executors
        PreferenceGroups.Prepared train = PreferenceGroups.prepare(sc,
                s.offPromptPairs() ? PreferenceGroups.withOffPromptAnswers(trainRows, s.training().seed()) : trainRows,
                start.tokenizer(), s.preferences(), "reward train data " + s.trainPath());
        PreferenceGroups.Prepared eval = null;
        try {
            if (s.evalPath().isPresent()) {
                eval = PreferenceGroups.prepare(sc,
                        PreferenceGroups.read(spark, s.evalPath().get(), s.preferences(), template), start.tokenizer(),
                        s.preferences(), "reward eval data " + s.evalPath().get());
            }
            return train(sc, s, start, train, eval, checkpoints);
        } finally {
            train.release();
            if (eval != null) {
                eval.release();
            }
        }
    }

    private static Result train(JavaSparkContext sc, RewardSettings s, StageStart start, PreferenceGroups.Prepared train,
            PreferenceGroups.Prepared eval, RunCheckpoints checkpoints) throws IOException {
        // 3. the ranking loss through the stage loop: step, log, evaluate, checkpoint
        int maxK = Math.max(train.report().maxK(), eval == null ? 2 : eval.report().maxK());
        int maxT = Math.max(train.report().maxLength(), eval == null ? 1 : eval.report().maxLength());
        RewardLoss loss = new RewardLoss(start.config().model(), s.training().microBatch(), maxK, maxT,
                start.tokenizer().eosId(), s.centerCoef());
        StageLoop.Outcome<EvalPoint> run = StageLoop.run(sc, s.training(), start, loss, train.data(),
                checkpoints, new RewardStage(sc, s, train.report(), eval, loss));

        // 4. the reward model, with the statistics PPO normalises by
        String finalDir = null;
        RewardEval.Result trainStats = null;
        if (run.finished()) {
            trainStats = RewardEval.run(sc, train.data(), run.params(), loss, s.training().microBatch(), Long.MAX_VALUE,
                    "reward statistics over the training answers");
            LOG.info("reward: over the {} training answers, reward mean {} std {}", trainStats.answers(),
                    trainStats.rewardMean(), trainStats.rewardStd());
            finalDir = s.training().finalDir();
            ModelConfigJson cfg = start.config().withExtra("rlhf_stage", "reward")
                    .withExtra(RewardScale.MEAN_KEY, trainStats.rewardMean())
                    .withExtra(RewardScale.STD_KEY, trainStats.rewardStd());
            new Checkpoint(cfg, run.params(), start.tokenizerFiles(), null).save(finalDir, sc.hadoopConfiguration());
        }
        return new Result(run.params(), run.step(), run.totalSteps(), train.report(),
                eval == null ? null : eval.report(), run.losses(), run.evals(), trainStats, finalDir, start.config());
    }

    /** What is the reward model's own in the stage loop: its metrics, evaluation and run description. */
    private record RewardStage(JavaSparkContext sc, RewardSettings s, PreferenceGroups.Report train,
            PreferenceGroups.Prepared eval, RewardLoss loss)
            implements StageLoop.Job<EvalPoint>, StageLoop.Evaluation<EvalPoint> {

        @Override
        public String name() {
            return "reward";
        }

        @Override
        public Map<String, Double> dataMetrics() {
            return StageLoop.dataMetrics(train.counts(), eval == null ? null : eval.report().counts());
        }

        @Override
        public List<String> consoleKeys() {
            return List.of("loss", "accuracy", "eval_accuracy", "eval_margin", "lr", "time_exchange_s");
        }

        @Override
        public List<String> counters() {
            return List.of("groups_seen", "pairs_seen");
        }

        /**
         * Pairwise accuracy and margin, and the mean and std of the rewards of the step's answers,
         * over the dataset's own pairs; the accuracy on the off-prompt pairs when there are any.
         */
        @Override
        public StageLoop.StepMetrics stepMetrics(StepResult r) {
            double pairs = r.sums().extra(0);
            double answers = r.sums().extra(3);
            double mean = r.sums().extra(4) / answers;
            long tokens = (long) r.sums().extra(6);
            StageLoop.StepMetrics m = new StageLoop.StepMetrics(tokens).value("accuracy", r.sums().extra(1) / pairs);
            if (r.sums().extra(7) > 0) {
                m.value("off_prompt_accuracy", r.sums().extra(8) / r.sums().extra(7));
            }
            return m
                    .value("margin", r.sums().extra(2) / pairs)
                    .value("reward_mean", mean)
                    .value("reward_std", Math.sqrt(Math.max(0, r.sums().extra(5) / answers - mean * mean)))
                    .perSecond("pairs", pairs)
                    .perSecond("tokens", tokens)
                    .count("groups_seen", (long) r.weight())
                    .count("pairs_seen", (long) pairs);
        }

        @Override
        public StageLoop.Evaluation<EvalPoint> evaluation() {
            return eval == null ? null : this;
        }

        @Override
        public EvalPoint evaluate(float[] params, int step) {
            return new EvalPoint(step, RewardEval.run(sc, eval.data(), params, loss, s.training().microBatch(),
                    s.training().evalLimit(), "reward evaluation after step " + step));
        }

        @Override
        public Map<String, Double> metrics(EvalPoint point) {
            RewardEval.Result e = point.result();
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("eval_loss", e.loss());
            m.put("eval_accuracy", e.accuracy());
            m.put("eval_margin", e.meanMargin());
            m.put("eval_reward_mean", e.rewardMean());
            m.put("eval_reward_std", e.rewardStd());
            return m;
        }

        @Override
        public StageLoop.SameRun trainingData() {
            return new StageLoop.SameRun("data_groups", train.groups(),
                    "the training prompt groups after checks and tokenization");
        }

        @Override
        public List<StageLoop.SameRun> dataLayout() {
            return List.of(new StageLoop.SameRun("context_length", s.contextLength(), "data.context_length"));
        }
    }

    // ---------------------------------------------------------------- where a run starts

    /** The model with a score head: the SFT or pretrained model gets one drawn at random. */
    private static StageStart fresh(RewardSettings s, RunCheckpoints checkpoints,
            Examples<PreferenceGroups.TextGroup> trainRows, Configuration hconf) throws IOException {
        StageStart.refuseToOverwrite(checkpoints, s.training().outputDir());
        ModelStart.Model m = ModelStart.load(new ModelStart.Spec("reward", s.modelInit(), s.tokenizerPath(),
                s.tokenizerVocabSize(), s.dropout(), s.randomPositions(), s.nLayer(), s.nHead(), s.nEmbd(),
                s.training().seed()), () -> PreferenceGroups.corpus(trainRows), hconf);
        ModelConfigJson config = m.config();
        float[] params = m.params();
        GptConfig lm = config.model();
        if (!lm.scoreHead()) {
            float std = s.scoreInitStd().orElse(ScoreHead.defaultStd(lm.nEmbd()));
            params = ScoreHead.extend(lm, params, std, s.training().seed());
            config = config.withModel(lm.withScoreHead(true));
            LOG.info("reward: added a score head (score.weight, 1 x {}) drawn from normal(0, {})", lm.nEmbd(), std);
        }
        StageStart start = StageStart.fresh(config, params, m.tokenizer());
        if (s.contextLength() > config.model().maxSeqLen()) {
            throw new IllegalArgumentException("data.context_length=" + s.contextLength() + " needs a model with at least "
                    + s.contextLength() + " positions; the model has n_positions=" + config.model().maxSeqLen());
        }
        return start;
    }
}
