package rlhf.reward;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.node.ObjectNode;

import rlhf.config.Args;
import rlhf.config.JobConfig;
import rlhf.config.SparkSessions;
import rlhf.data.DatasetSource;
import rlhf.data.Examples;
import rlhf.data.PromptTemplate;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.io.RunCheckpoints;
import rlhf.io.Safetensors;
import rlhf.metrics.ConsoleProgress;
import rlhf.metrics.MetricsLog;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.model.RewardScorer;
import rlhf.optim.AdamW;
import rlhf.optim.LrSchedule;
import rlhf.spark.DataParallelTrainer;
import rlhf.spark.ModelStart;
import rlhf.spark.StepResult;
import rlhf.spark.TrainerConfig;
import rlhf.spark.TrainerState;
import rlhf.tokenizer.BpeTokenizer;

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

    public static final String MEAN_KEY = "rlhf_reward_mean";
    public static final String STD_KEY = "rlhf_reward_std";
    public static final String TEMPLATE_KEY = "rlhf_prompt_template";

    private RewardJob() {
    }

    public static void main(String[] argv) throws IOException {
        Args.Spec spec = Args.command("reward", "reward model on pairwise or K-wise ranked preferences");
        Args args = spec.parse(argv);
        if (args.help()) {
            System.out.print(spec.usage(JobConfig.defaults("reward")));
            return;
        }
        JobConfig config = JobConfig.load("reward", args);
        RewardSettings settings = RewardSettings.from(config);
        LOG.info("reward configuration changes:\n{}", config.describeChanges());
        SparkSession spark = SparkSessions.create("rlhf reward", args.master(), config);
        try {
            Result r = run(spark, settings, args.resume());
            System.err.println(r.summary());
        } finally {
            spark.stop();
        }
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
    public record Result(float[] params, int step, int totalSteps, RewardData.Report train, RewardData.Report eval,
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
        RunCheckpoints checkpoints = new RunCheckpoints(s.outputDir(), s.checkpointEvery(), s.keepLast(), hconf);

        // 1. preference rows, and the model + tokenizer we start from
        PromptTemplate template = DatasetSource.template(s.config(), spark);
        Examples<RewardData.TextGroup> trainRows = RewardData.read(spark, s.trainPath(), s, template);
        Start start = resume ? resumeFrom(checkpoints, hconf) : fresh(s, checkpoints, trainRows, hconf);
        start = start.withConfig(start.config.withExtra(RewardScorer.APPENDS_EOS_KEY, true)
                .withExtra(TEMPLATE_KEY, template.name()));
        GptConfig model = start.config.model();
        LOG.info("reward model: {} layers, {} heads, width {}, vocabulary {}, {} parameters{}", model.nLayer(),
                model.nHead(), model.nEmbd(), model.vocabSize(), start.params.length,
                resume ? " (resumed at step " + start.state.path("step").asInt() + ")" : "");

        // 2. tokenized prompt groups, cached on the executors
        RewardData.Prepared train = RewardData.prepare(sc, trainRows, start.tokenizer, s,
                "reward train data " + s.trainPath());
        RewardData.Prepared eval = null;
        try {
            if (s.evalPath().isPresent()) {
                eval = RewardData.prepare(sc, RewardData.read(spark, s.evalPath().get(), s, template), start.tokenizer,
                        s, "reward eval data " + s.evalPath().get());
            }
            return train(sc, s, start, train, eval, checkpoints, resume);
        } finally {
            train.data().unpersist();
            if (eval != null) {
                eval.data().unpersist();
            }
        }
    }

    private static Result train(JavaSparkContext sc, RewardSettings s, Start start, RewardData.Prepared train,
            RewardData.Prepared eval, RunCheckpoints checkpoints, boolean resume) throws IOException {
        // 3. the trainer with the ranking loss, AdamW and the schedule
        GptConfig model = start.config.model();
        int maxK = Math.max(train.report().maxK(), eval == null ? 2 : eval.report().maxK());
        int maxT = Math.max(train.report().maxLength(), eval == null ? 1 : eval.report().maxLength());
        RewardLoss loss = new RewardLoss(model, s.microBatch(), maxK, maxT, start.tokenizer.eosId(), s.centerCoef());
        long stepsPerEpoch = Math.max(1, train.report().groups() / s.globalBatch());
        int total = s.steps() > 0 ? s.steps() : (int) Math.min(Integer.MAX_VALUE, s.epochs() * stepsPerEpoch);
        LrSchedule schedule = new LrSchedule(s.lr(), s.schedule() == RewardSettings.Schedule.CONSTANT ? s.lr() : s.minLr(),
                Math.min(s.warmupSteps(), total), total);
        AdamW adam = new AdamW(ParamLayout.of(model), s.beta1(), s.beta2(), s.eps(), s.weightDecay(), false);
        DataParallelTrainer<PromptGroup, RewardLoss.State> trainer = new DataParallelTrainer<>(sc,
                new TrainerConfig("reward", s.globalBatch(), s.microBatch(), s.seed(), s.gradClip(), total), loss,
                start.params, (p, g, step) -> adam.update(p, g, schedule.lr(step)), train.data());
        Progress progress = new Progress();
        if (resume) {
            checkSameRun(start.state, s, train.report(), start.dir);
            trainer.resumeFrom(TrainerState.fromJson(start.state, start.dir + "/" + Checkpoint.TRAINER_STATE));
            adam.restore(start.training.adamM(), start.training.adamV(), start.state.get("adam_step").asLong());
            progress.groups = start.state.get("groups_seen").asLong();
            progress.pairs = start.state.get("pairs_seen").asLong();
            progress.elapsed = start.state.get("elapsed_seconds").asDouble();
        }
        int first = trainer.state().step();
        int stopAt = s.stopAtStep() > 0 ? Math.min(s.stopAtStep(), total) : total;
        long evalLimit = s.evalBatches() > 0 ? (long) s.evalBatches() * s.globalBatch() : Long.MAX_VALUE;

        List<Double> losses = new ArrayList<>();
        List<EvalPoint> evals = new ArrayList<>();
        ConsoleProgress console = ConsoleProgress.onStderr("reward", total, first,
                List.of("loss", "accuracy", "eval_accuracy", "eval_margin", "lr"));
        try (MetricsLog metrics = resume ? MetricsLog.resume(s.metricsPath(), first) : MetricsLog.create(s.metricsPath())) {
            if (eval != null && !resume) {
                EvalPoint e = evaluate(sc, trainer, eval, loss, s, evalLimit, 0);
                evals.add(e);
                metrics.log(0, evalMetrics(e.result(), new LinkedHashMap<>()));
            }
            // 4. the loop: step, log, evaluate, checkpoint
            for (int step = first; step < stopAt; step++) {
                long t0 = System.nanoTime();
                StepResult r = trainer.step();
                double seconds = (System.nanoTime() - t0) / 1e9;
                int done = r.step() + 1;
                double pairs = r.sums().extra(0);
                progress.groups += (long) r.weight();
                progress.pairs += (long) pairs;
                progress.elapsed += seconds;
                losses.add(r.loss());
                Map<String, Double> m = new LinkedHashMap<>();
                m.put("loss", r.loss());
                m.put("accuracy", r.sums().extra(1) / pairs);
                m.put("margin", r.sums().extra(2) / pairs);
                double answers = r.sums().extra(3);
                double mean = r.sums().extra(4) / answers;
                m.put("reward_mean", mean);
                m.put("reward_std", Math.sqrt(Math.max(0, r.sums().extra(5) / answers - mean * mean)));
                m.put("lr", (double) schedule.lr(r.step()));
                m.put("grad_norm", (double) r.gradNorm());
                long tokens = (long) r.sums().extra(6);
                m.put("pairs_per_s", pairs / seconds);
                m.put("tokens_per_s", tokens / seconds);
                m.put("groups_seen", (double) progress.groups);
                m.put("pairs_seen", (double) progress.pairs);
                m.put("elapsed_s", progress.elapsed);
                if (eval != null && (done == total || (s.evalEvery() > 0 && done % s.evalEvery() == 0))) {
                    EvalPoint e = evaluate(sc, trainer, eval, loss, s, evalLimit, done);
                    evals.add(e);
                    evalMetrics(e.result(), m);
                }
                metrics.log(done, m);
                console.update(done, tokens, m);
                if (checkpoints.due(done) || done == stopAt) {
                    Checkpoint c = new Checkpoint(start.config, trainer.params(), start.tokenizerFiles,
                            new Checkpoint.TrainingState(state(trainer, adam, progress, s, train.report(), total),
                                    adam.m(), adam.v()));
                    LOG.info("reward: saved {}", checkpoints.save(done, c, Safetensors.Dtype.F32));
                }
            }
        }
        // 5. the reward model, with the statistics PPO normalises by
        int step = trainer.state().step();
        String finalDir = null;
        RewardEval.Result trainStats = null;
        if (step >= total) {
            Broadcast<float[]> bc = trainer.broadcastSnapshot();
            try {
                trainStats = RewardEval.run(sc, train.data(), bc, loss, s.microBatch(), Long.MAX_VALUE,
                        "reward statistics over the training answers");
            } finally {
                bc.destroy();
            }
            LOG.info("reward: over the {} training answers, reward mean {} std {}", trainStats.answers(),
                    trainStats.rewardMean(), trainStats.rewardStd());
            finalDir = s.outputDir().replaceAll("/+$", "") + "/final";
            ModelConfigJson cfg = start.config.withExtra("rlhf_stage", "reward")
                    .withExtra(MEAN_KEY, trainStats.rewardMean())
                    .withExtra(STD_KEY, trainStats.rewardStd());
            new Checkpoint(cfg, trainer.params(), start.tokenizerFiles, null).save(finalDir, sc.hadoopConfiguration());
        }
        return new Result(trainer.params(), step, total, train.report(), eval == null ? null : eval.report(), losses,
                evals, trainStats, finalDir, start.config);
    }

    private static Map<String, Double> evalMetrics(RewardEval.Result e, Map<String, Double> m) {
        m.put("eval_loss", e.loss());
        m.put("eval_accuracy", e.accuracy());
        m.put("eval_margin", e.meanMargin());
        m.put("eval_reward_mean", e.rewardMean());
        m.put("eval_reward_std", e.rewardStd());
        return m;
    }

    private static EvalPoint evaluate(JavaSparkContext sc, DataParallelTrainer<PromptGroup, RewardLoss.State> trainer,
            RewardData.Prepared eval, RewardLoss loss, RewardSettings s, long limit, int step) {
        Broadcast<float[]> bc = trainer.broadcastSnapshot();
        try {
            return new EvalPoint(step, RewardEval.run(sc, eval.data(), bc, loss, s.microBatch(), limit,
                    "reward evaluation after step " + step));
        } finally {
            bc.destroy();
        }
    }

    /** Counters that continue across a resume. */
    private static final class Progress {
        long groups;
        long pairs;
        double elapsed;
    }

    // ---------------------------------------------------------------- where a run starts

    /** The model (with score head), tokenizer and (when resuming) training state a run starts from. */
    private record Start(ModelConfigJson config, float[] params, BpeTokenizer tokenizer,
            Checkpoint.Tokenizer tokenizerFiles, Checkpoint.TrainingState training, ObjectNode state, String dir) {

        Start withConfig(ModelConfigJson c) {
            return new Start(c, params, tokenizer, tokenizerFiles, training, state, dir);
        }
    }

    private static Start resumeFrom(RunCheckpoints checkpoints, Configuration hconf) throws IOException {
        String dir = checkpoints.newestComplete().orElseThrow(() -> new IllegalArgumentException(
                "--resume: no complete checkpoint-<step> in output.dir " + checkpoints.dirFor(0).replaceAll("/checkpoint-0$", "")
                        + "; run without --resume to start, or set output.dir to the run to continue"));
        Checkpoint c = Checkpoint.load(dir, true, hconf);
        if (c.training() == null || c.training().adamM() == null || c.tokenizer() == null
                || !c.config().model().scoreHead()) {
            throw new IllegalArgumentException("--resume: checkpoint " + dir + " has no "
                    + (c.tokenizer() == null ? "tokenizer files" : !c.config().model().scoreHead() ? "score head"
                    : "trainer state and optimizer moments") + "; it cannot be resumed");
        }
        LOG.info("reward: resuming from {}", dir);
        return new Start(c.config(), c.params(), c.tokenizer().load(dir), c.tokenizer(), c.training(),
                c.training().trainerState(), dir);
    }

    private static Start fresh(RewardSettings s, RunCheckpoints checkpoints, Examples<RewardData.TextGroup> trainRows,
            Configuration hconf) throws IOException {
        if (!checkpoints.completeSteps().isEmpty()) {
            throw new IllegalArgumentException("output.dir " + s.outputDir() + " already holds checkpoints "
                    + checkpoints.completeSteps() + ": continue that run with --resume, or set another output.dir");
        }
        ModelStart.Model m = ModelStart.load(new ModelStart.Spec("reward", s.modelInit(), s.tokenizerPath(),
                s.tokenizerVocabSize(), s.dropout(), s.randomPositions(), s.nLayer(), s.nHead(), s.nEmbd(), s.seed()),
                () -> RewardData.corpus(trainRows), hconf);
        BpeTokenizer tok = m.tokenizer();
        ModelConfigJson config = m.config();
        float[] params = m.params();
        GptConfig lm = config.model();
        if (!lm.scoreHead()) {
            float std = s.scoreInitStd().orElse(ScoreHead.defaultStd(lm.nEmbd()));
            params = ScoreHead.extend(lm, params, std, s.seed());
            config = config.withModel(lm.withScoreHead(true));
            LOG.info("reward: added a score head (score.weight, 1 x {}) drawn from normal(0, {})", lm.nEmbd(), std);
        }
        if (tok.vocabSize() > config.model().vocabSize()) {
            throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize() + " tokens but the model's "
                    + "vocabulary has " + config.model().vocabSize() + " (vocab_size in config.json)");
        }
        if (s.contextLength() > config.model().maxSeqLen()) {
            throw new IllegalArgumentException("data.context_length=" + s.contextLength() + " needs a model with at least "
                    + s.contextLength() + " positions; the model has n_positions=" + config.model().maxSeqLen());
        }
        return new Start(config, params, tok, Checkpoint.Tokenizer.of(tok), null, null, null);
    }

    // ---------------------------------------------------------------- trainer state

    /**
     * trainer_state.json: where the run is (step, epoch, position in the epoch's order), the RNG
     * state (every draw derives from the seed and the step), the AdamW step, counters, and the
     * settings a resume must keep for the data position to mean the same prompt groups.
     */
    private static ObjectNode state(DataParallelTrainer<PromptGroup, RewardLoss.State> trainer, AdamW adam,
            Progress p, RewardSettings s, RewardData.Report train, int total) {
        ObjectNode n = trainer.state().toJson();
        n.put("adam_step", adam.step());
        n.put("groups_seen", p.groups);
        n.put("pairs_seen", p.pairs);
        n.put("elapsed_seconds", p.elapsed);
        n.put("total_steps", total);
        n.put("data_groups", train.groups());
        n.put("global_batch", s.globalBatch());
        n.put("context_length", s.contextLength());
        return n;
    }

    /** A resume must see the same data and batches, or its data position means other prompt groups. */
    private static void checkSameRun(ObjectNode st, RewardSettings s, RewardData.Report train, String dir) {
        check(st, "data_groups", train.groups(), dir, "the training prompt groups after checks and tokenization");
        check(st, "global_batch", s.globalBatch(), dir, "train.global_batch");
        check(st, "context_length", s.contextLength(), dir, "data.context_length");
        check(st, "seed", s.seed(), dir, "train.seed");
        for (String k : List.of("adam_step", "groups_seen", "pairs_seen", "elapsed_seconds")) {
            if (!st.has(k)) {
                throw new IllegalArgumentException("--resume: " + dir + "/" + Checkpoint.TRAINER_STATE + " has no '" + k + "'");
            }
        }
    }

    private static void check(ObjectNode st, String key, long now, String dir, String what) {
        if (!st.has(key) || st.get(key).asLong() != now) {
            throw new IllegalArgumentException("--resume: checkpoint " + dir + " was trained with " + key + "="
                    + st.path(key).asText("(missing)") + " but this run has " + now + " (" + what
                    + "); resume with the settings and data of that run");
        }
    }
}
