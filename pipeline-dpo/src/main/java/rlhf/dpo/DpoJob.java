package rlhf.dpo;

import java.io.IOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.databind.node.ObjectNode;
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
import rlhf.io.RunCheckpoints;
import rlhf.model.GptConfig;
import rlhf.spark.ModelStart;
import rlhf.spark.StageLoop;
import rlhf.spark.StageStart;
import rlhf.spark.StepResult;
import rlhf.spark.TrainingSettings;

/**
 * Direct preference optimisation: {@code bin/rlhf dpo --config FILE [--set k=v ...] [--resume]},
 * or {@code spark-submit --class rlhf.dpo.DpoJob rlhf-pipeline-dpo.jar ...}. Keys: conf/dpo.properties.
 *
 * <p>The recipe ({@link #run}): load the configuration; read the preferences (pairs or K-wise
 * rankings, exactly as the reward job reads them); start from the newest checkpoint (--resume)
 * or the policy (model.init); tokenize and cache the prompt groups on the executors; compute the
 * reference model's log-probability of every answer in one pass and free its weights
 * ({@link ReferenceLogprobs}); hand the data-parallel trainer the DPO loss ({@link DpoLoss});
 * evaluate, log and checkpoint as it goes; save the policy.
 *
 * <p>A resume computes the reference's log-probabilities again, from the same reference (checked
 * by a hash of its weights), and ends with exactly the weights of an uninterrupted run.
 */
public final class DpoJob {

    private static final Logger LOG = LoggerFactory.getLogger(DpoJob.class);

    private DpoJob() {
    }

    public static void main(String[] argv) {
        Cli.job("dpo", Args.command("dpo", "direct preference optimisation (DPO, IPO) of a policy on preferences"),
                argv, DpoSettings::from, (args, settings, cfg, spark) ->
                        System.err.println(run(spark, settings, args.resume()).summary()));
    }

    /** One evaluation: after {@code step} steps. */
    public record EvalPoint(int step, DpoEval.Result result) {
    }

    /**
     * What a run did.
     *
     * @param params   the weights after the last step
     * @param losses   training loss of each step this invocation ran
     * @param finalDir the policy, or null when the run stopped early
     */
    public record Result(float[] params, int step, int totalSteps, PreferenceGroups.Report train,
            PreferenceGroups.Report eval, List<Double> losses, List<EvalPoint> evals, String finalDir,
            ModelConfigJson config) {

        public String summary() {
            StringBuilder sb = new StringBuilder("dpo: " + step + "/" + totalSteps + " steps");
            if (!losses.isEmpty()) {
                sb.append(String.format(Locale.ROOT, ", last train loss %.4f", losses.get(losses.size() - 1)));
            }
            if (!evals.isEmpty()) {
                EvalPoint a = evals.get(0);
                EvalPoint b = evals.get(evals.size() - 1);
                sb.append(String.format(Locale.ROOT, ", eval loss %.4f -> %.4f, implicit-reward accuracy %.3f (step %d)"
                        + " -> %.3f (step %d), margin %.3f", a.result().loss(), b.result().loss(),
                        a.result().accuracy(), a.step(), b.result().accuracy(), b.step(), b.result().meanMargin()));
            }
            sb.append(finalDir != null ? ", policy saved to " + finalDir : ", stopped early (continue with --resume)");
            return sb.toString();
        }
    }

    /** The whole job on a running session (tests call it with their own session). */
    public static Result run(SparkSession spark, DpoSettings s, boolean resume) throws IOException {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hconf = sc.hadoopConfiguration();
        TrainingSettings t = s.training();
        RunCheckpoints checkpoints = new RunCheckpoints(t.outputDir(), t.checkpointEvery(), t.keepLast(), hconf);

        // 1. preference rows, the policy we start from and the reference it is held to
        PromptTemplate template = DatasetSource.template(s.config(), spark);
        Examples<PreferenceGroups.TextGroup> trainRows = PreferenceGroups.read(spark, s.trainPath(), s.preferences(),
                template);
        StageStart start = resume
                ? StageStart.resume("dpo", checkpoints, hconf, config -> config.model().scoreHead() ? "language model head"
                        : null)
                : fresh(s, checkpoints, hconf);
        GptConfig model = start.config().model();
        LOG.info("dpo policy: {} layers, {} heads, width {}, vocabulary {}, {} parameters{}; reference {}; loss {}",
                model.nLayer(), model.nHead(), model.nEmbd(), model.vocabSize(), start.params().length,
                resume ? " (resumed at step " + start.trainerState().path("step").asInt() + ")" : "", s.reference(),
                s.preferenceLoss() + (s.nllCoef() > 0 ? " + " + s.nllCoef() + " x NLL of the preferred answers" : ""));

        // 2. tokenized prompt groups, cached on the executors
        PreferenceGroups.Prepared train = PreferenceGroups.prepare(sc, trainRows, start.tokenizer(), s.preferences(),
                "dpo train data " + s.trainPath());
        PreferenceGroups.Prepared eval = null;
        try {
            if (s.evalPath().isPresent()) {
                eval = PreferenceGroups.prepare(sc,
                        PreferenceGroups.read(spark, s.evalPath().get(), s.preferences(), template),
                        start.tokenizer(), s.preferences(), "dpo eval data " + s.evalPath().get());
            }
            return train(sc, s, start, train, eval, checkpoints);
        } finally {
            train.release();
            if (eval != null) {
                eval.release();
            }
        }
    }

    private static Result train(JavaSparkContext sc, DpoSettings s, StageStart start, PreferenceGroups.Prepared train,
            PreferenceGroups.Prepared eval, RunCheckpoints checkpoints) throws IOException {
        // 3. the reference's log-probabilities, once; then only the policy is held
        int maxK = Math.max(train.report().maxK(), eval == null ? 2 : eval.report().maxK());
        int maxT = Math.max(train.report().maxLength(), eval == null ? 2 : eval.report().maxLength());
        DpoLoss loss = new DpoLoss(start.config().model(), s.training().microBatch(), maxK, Math.max(2, maxT),
                start.tokenizer().eosId(), s.preferenceLoss(), s.nllCoef());
        ReferencePass ref = ReferencePass.run(sc, s, start, loss, train, eval);
        ReferenceLogprobs.Computed trainData = ref.train();
        ReferenceLogprobs.Computed evalData = ref.eval();
        try {
            // 4. the DPO loss through the stage loop: step, log, evaluate, checkpoint
            StageLoop.Outcome<EvalPoint> run = StageLoop.run(sc, s.training(), start, loss, trainData.data(),
                    checkpoints, new DpoStage(sc, s, train.report(), eval == null ? null : eval.report(), evalData,
                            loss, ref.referenceHash()));

            // 5. the policy
            String finalDir = null;
            if (run.finished()) {
                finalDir = s.training().finalDir();
                new Checkpoint(start.config().withExtra("rlhf_stage", "dpo"), run.params(), start.tokenizerFiles(),
                        null).save(finalDir, sc.hadoopConfiguration());
            }
            return new Result(run.params(), run.step(), run.totalSteps(), train.report(),
                    eval == null ? null : eval.report(), run.losses(), run.evals(), finalDir, start.config());
        } finally {
            trainData.release();
            if (evalData != null) {
                evalData.release();
            }
        }
    }

    /** What is DPO's own in the stage loop: its metrics, evaluation and run description. */
    private record DpoStage(JavaSparkContext sc, DpoSettings s, PreferenceGroups.Report train,
            PreferenceGroups.Report evalReport, ReferenceLogprobs.Computed eval, DpoLoss loss, long referenceHash)
            implements StageLoop.Job<EvalPoint>, StageLoop.Evaluation<EvalPoint> {

        @Override
        public String name() {
            return "dpo";
        }

        @Override
        public Map<String, Double> dataMetrics() {
            return StageLoop.dataMetrics(train.counts(), evalReport == null ? null : evalReport.counts());
        }

        @Override
        public List<String> consoleKeys() {
            return List.of("loss", "accuracy", "margin", "eval_accuracy", "eval_margin", "lr", "time_exchange_s");
        }

        @Override
        public List<String> counters() {
            return List.of("groups_seen", "pairs_seen");
        }

        /**
         * TRL's numbers: the share of pairs whose preferred answer has the larger implicit reward
         * β·log π/π_ref, the mean gap, each side's mean reward and log-probability.
         */
        @Override
        public StageLoop.StepMetrics stepMetrics(StepResult r) {
            double pairs = r.sums().extra(0);
            long tokens = (long) r.sums().extra(7);
            return new StageLoop.StepMetrics(tokens)
                    .value("accuracy", r.sums().extra(1) / pairs)
                    .value("margin", r.sums().extra(2) / pairs)
                    .value("chosen_reward", r.sums().extra(3) / pairs)
                    .value("rejected_reward", r.sums().extra(4) / pairs)
                    .value("chosen_logp", r.sums().extra(5) / pairs)
                    .value("rejected_logp", r.sums().extra(6) / pairs)
                    .value("best_nll", r.sums().extra(8) / r.weight())
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
            return new EvalPoint(step, DpoEval.run(sc, eval.data(), params, loss, s.training().microBatch(),
                    s.training().evalLimit(), "dpo evaluation after step " + step));
        }

        @Override
        public Map<String, Double> metrics(EvalPoint point) {
            DpoEval.Result e = point.result();
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("eval_loss", e.loss());
            m.put("eval_accuracy", e.accuracy());
            m.put("eval_margin", e.meanMargin());
            m.put("eval_chosen_reward", e.chosenReward());
            m.put("eval_rejected_reward", e.rejectedReward());
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

        /** The loss and the reference decide what every step computes: a resume must keep them. */
        @Override
        public void describeRun(ObjectNode n) {
            n.put("dpo_loss", s.loss().name().toLowerCase(Locale.ROOT));
            n.put("dpo_beta", s.beta());
            n.put("dpo_label_smoothing", s.labelSmoothing());
            n.put("dpo_nll_coef", s.nllCoef());
            n.put("reference_hash", Long.toHexString(referenceHash));
        }

        @Override
        public void checkSameRun(ObjectNode st, String dir) {
            ObjectNode now = st.objectNode();
            describeRun(now);
            for (String key : List.of("dpo_loss", "dpo_beta", "dpo_label_smoothing", "dpo_nll_coef", "reference_hash")) {
                if (!st.path(key).asText().equals(now.path(key).asText())) {
                    throw new IllegalArgumentException("--resume: checkpoint " + dir + " was trained with " + key + " = "
                            + st.path(key).asText() + ", this run has " + now.path(key).asText()
                            + (key.equals("reference_hash") ? " (model.ref " + s.reference() + " is not the same"
                            + " reference: its weights differ)" : "") + "; the run cannot continue with another");
                }
            }
        }
    }

    // ---------------------------------------------------------------- where a run starts

    /** The policy of model.init, with model.dropout; a reward model (score head) is refused. */
    private static StageStart fresh(DpoSettings s, RunCheckpoints checkpoints, Configuration hconf) throws IOException {
        StageStart.refuseToOverwrite(checkpoints, s.training().outputDir());
        ModelStart.Model m = ModelStart.load(new ModelStart.Spec("dpo", Optional.of(s.policy()), Optional.empty(), 0,
                Optional.of(s.dropout()), 0, 0, 0, 0, s.training().seed()), () -> {
                    throw new IllegalStateException("model.init is set: no tokenizer is trained");
                }, hconf);
        if (m.config().model().scoreHead()) {
            throw new IllegalArgumentException("model.init " + s.policy() + " is a reward model (it has a score head); "
                    + "DPO trains a policy: set model.init to the SFT model");
        }
        StageStart start = StageStart.fresh(m.config(), m.params(), m.tokenizer());
        if (s.contextLength() - 1 > m.config().model().maxSeqLen()) {
            throw new IllegalArgumentException("data.context_length=" + s.contextLength() + " needs a model with at least "
                    + (s.contextLength() - 1) + " positions; the model has n_positions=" + m.config().model().maxSeqLen());
        }
        return start;
    }

    /**
     * The reference model's log-probabilities of the train and eval answers, and a hash of its
     * weights; the weights themselves are dropped when {@link #run} returns.
     */
    private record ReferencePass(ReferenceLogprobs.Computed train, ReferenceLogprobs.Computed eval,
            long referenceHash) {

        static ReferencePass run(JavaSparkContext sc, DpoSettings s, StageStart start, DpoLoss loss,
                PreferenceGroups.Prepared train, PreferenceGroups.Prepared eval) throws IOException {
            float[] reference = load(s.reference(), start, sc.hadoopConfiguration());
            ReferenceLogprobs.Computed trainData = ReferenceLogprobs.compute(sc, train.data(), reference, loss,
                    s.training().microBatch(), "dpo train data " + s.trainPath());
            ReferenceLogprobs.Computed evalData = eval == null ? null : ReferenceLogprobs.compute(sc, eval.data(),
                    reference, loss, s.training().microBatch(), "dpo eval data " + s.evalPath().get());
            // the groups live on inside the DPO examples; the reference's sums came from the driver
            train.data().unpersist();
            if (eval != null) {
                eval.data().unpersist();
            }
            return new ReferencePass(trainData, evalData, hash(reference));
        }

        /** model.ref's weights, which must have the policy's architecture and tokenizer. */
        static float[] load(String dir, StageStart policy, Configuration hconf) throws IOException {
            Checkpoint c = Checkpoint.loadPretrained(dir, hconf);
            GptConfig ref = c.config().model().withDropout(0, 0, 0);
            GptConfig pol = policy.config().model().withDropout(0, 0, 0);
            if (!ref.equals(pol)) {
                throw new IllegalArgumentException("model.ref " + dir + " is not the policy's architecture: " + ref
                        + " vs " + pol + "; DPO's reference is the policy's starting point (the SFT model)");
            }
            if (c.tokenizer() != null && (!Arrays.equals(c.tokenizer().vocabJson(), policy.tokenizerFiles().vocabJson())
                    || !Arrays.equals(c.tokenizer().mergesTxt(), policy.tokenizerFiles().mergesTxt()))) {
                throw new IllegalArgumentException("model.ref " + dir + " has another tokenizer than the policy: its "
                        + "log-probabilities would be of other tokens");
            }
            return c.params();
        }

        /** A 64-bit hash of the weights' bits (FNV-1a over the floats), recorded to refuse another reference on resume. */
        static long hash(float[] params) {
            long h = 0xcbf29ce484222325L;
            for (float v : params) {
                h = (h ^ Float.floatToRawIntBits(v)) * 0x100000001b3L;
            }
            return h;
        }
    }
}
