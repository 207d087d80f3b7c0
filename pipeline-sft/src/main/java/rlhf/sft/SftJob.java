package rlhf.sft;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.cli.Cli;
import rlhf.config.Args;
import rlhf.data.Demonstration;
import rlhf.data.Examples;
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
 * Supervised fine-tuning: {@code bin/rlhf sft --config FILE [--set k=v ...] [--resume]}, or
 * {@code spark-submit --class rlhf.sft.SftJob rlhf-pipeline-sft.jar ...}. Keys: conf/sft.properties.
 *
 * <p>The recipe ({@link #run}): load the configuration; read the demonstrations; start from the
 * newest checkpoint (--resume), a pretrained checkpoint, or a random model with a tokenizer
 * trained on the data; tokenize and cache the data on the executors; hand the data-parallel
 * trainer the SFT loss; evaluate, log and checkpoint as it goes; save the fine-tuned model.
 *
 * <p>A resumed run ends with exactly the weights of an uninterrupted one ({@link StageLoop}).
 */
public final class SftJob {

    private static final Logger LOG = LoggerFactory.getLogger(SftJob.class);
    private SftJob() {
    }

    public static void main(String[] argv) {
        Cli.job("sft", Args.command("sft", "supervised fine-tuning of a GPT model on instruction data"), argv,
                SftSettings::from, (args, settings, cfg, spark) ->
                        System.err.println(run(spark, settings, args.resume()).summary()));
    }

    /** One point of the evaluation curve. */
    public record EvalPoint(int step, double loss, double perplexity) {
    }

    /**
     * What a run did.
     *
     * @param params   the weights after the last step
     * @param step     steps done (all of them, or train.stop_at_step)
     * @param losses   training loss of each step this invocation ran
     * @param finalDir the fine-tuned model, or null when the run stopped early
     */
    public record Result(float[] params, int step, int totalSteps, SftData.Report train, SftData.Report eval,
            List<Double> losses, List<EvalPoint> evals, String finalDir, ModelConfigJson config) {

        public String summary() {
            StringBuilder sb = new StringBuilder("sft: " + step + "/" + totalSteps + " steps");
            if (!losses.isEmpty()) {
                sb.append(String.format(Locale.ROOT, ", last train loss %.4f", losses.get(losses.size() - 1)));
            }
            if (!evals.isEmpty()) {
                EvalPoint a = evals.get(0);
                EvalPoint b = evals.get(evals.size() - 1);
                sb.append(", eval loss ");
                if (evals.size() > 1) {
                    sb.append(String.format(Locale.ROOT, "%.4f (step %d) -> ", a.loss(), a.step()));
                }
                sb.append(String.format(Locale.ROOT, "%.4f (step %d), perplexity %.2f", b.loss(), b.step(),
                        b.perplexity()));
            }
            sb.append(finalDir != null ? ", model saved to " + finalDir : ", stopped early (continue with --resume)");
            return sb.toString();
        }
    }

    /** The whole job on a running session (tests call it with their own session). */
    public static Result run(SparkSession spark, SftSettings s, boolean resume) throws IOException {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hconf = sc.hadoopConfiguration();
        TrainingSettings t = s.training();
        RunCheckpoints checkpoints = new RunCheckpoints(t.outputDir(), t.checkpointEvery(), t.keepLast(), hconf);

        // 1. data rows, and the model + tokenizer we start from
        Examples<Demonstration> trainRows = SftData.read(spark, s.trainPath(), s);
        StageStart start = resume ? StageStart.resume("sft", checkpoints, hconf) : fresh(s, checkpoints, trainRows, hconf);
        GptConfig model = start.config().model();
        LOG.info("sft model: {} layers, {} heads, width {}, vocabulary {}, {} parameters{}", model.nLayer(),
                model.nHead(), model.nEmbd(), model.vocabSize(), start.params().length,
                resume ? " (resumed at step " + start.trainerState().path("step").asInt() + ")" : "");

        // 2. tokenized, cached on the executors
        SftData.Prepared train = SftData.prepare(sc, trainRows, start.tokenizer(), s, "sft train data " + s.trainPath());
        SftData.Prepared eval = s.evalPath().isEmpty() ? null
                : SftData.prepare(sc, SftData.read(spark, s.evalPath().get(), s), start.tokenizer(), s,
                        "sft eval data " + s.evalPath().get());
        try {
            return train(sc, s, start, train, eval, checkpoints);
        } finally {
            train.release();
            if (eval != null) {
                eval.release();
            }
        }
    }

    private static Result train(JavaSparkContext sc, SftSettings s, StageStart start, SftData.Prepared train,
            SftData.Prepared eval, RunCheckpoints checkpoints) throws IOException {
        // 3. the SFT loss through the stage loop: step, log, evaluate, checkpoint
        SftLoss loss = new SftLoss(start.config().model(), s.training().microBatch(), s.contextLength(),
                start.tokenizer().eosId());
        StageLoop.Outcome<EvalPoint> run = StageLoop.run(sc, s.training(), start, loss, train.data(),
                checkpoints, new SftStage(sc, s, train.report(), eval, loss));

        // 4. the fine-tuned model, for the reward and PPO stages
        String finalDir = null;
        if (run.finished()) {
            finalDir = s.training().finalDir();
            new Checkpoint(start.config().withExtra("rlhf_stage", "sft"), run.params(), start.tokenizerFiles(), null)
                    .save(finalDir, sc.hadoopConfiguration());
        }
        return new Result(run.params(), run.step(), run.totalSteps(), train.report(),
                eval == null ? null : eval.report(), run.losses(), run.evals(), finalDir, start.config());
    }

    /** What is SFT's own in the stage loop: its metrics, evaluation and run description. */
    private record SftStage(JavaSparkContext sc, SftSettings s, SftData.Report train, SftData.Prepared eval,
            SftLoss loss) implements StageLoop.Job<EvalPoint>, StageLoop.Evaluation<EvalPoint> {

        @Override
        public String name() {
            return "sft";
        }

        @Override
        public Map<String, Double> dataMetrics() {
            return StageLoop.dataMetrics(train.counts(), eval == null ? null : eval.report().counts());
        }

        @Override
        public List<String> consoleKeys() {
            return List.of("loss", "eval_loss", "lr", "grad_norm", "time_exchange_s");
        }

        @Override
        public List<String> counters() {
            return List.of("examples_seen", "tokens_seen");
        }

        @Override
        public StageLoop.StepMetrics stepMetrics(StepResult r) {
            long tokens = (long) r.sums().extra(0);
            return new StageLoop.StepMetrics(tokens)
                    .perSecond("tokens", tokens)
                    .count("examples_seen", (long) r.sums().extra(1))
                    .count("tokens_seen", tokens);
        }

        @Override
        public StageLoop.Evaluation<EvalPoint> evaluation() {
            return eval == null ? null : this;
        }

        @Override
        public EvalPoint evaluate(float[] params, int step) {
            SftEval.Result r = SftEval.run(sc, eval.data(), params, loss, s.training().microBatch(),
                    s.training().evalLimit(), "sft evaluation after step " + step);
            return new EvalPoint(step, r.loss(), r.perplexity());
        }

        @Override
        public Map<String, Double> metrics(EvalPoint e) {
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("eval_loss", e.loss());
            m.put("eval_ppl", e.perplexity());
            return m;
        }

        @Override
        public StageLoop.SameRun trainingData() {
            return new StageLoop.SameRun("data_sequences", train.sequences(),
                    "the training data (after tokenization and packing)");
        }

        @Override
        public List<StageLoop.SameRun> dataLayout() {
            return List.of(new StageLoop.SameRun("context_length", s.contextLength(), "data.context_length"));
        }

        /** How sequences are made and which tokens count: another choice makes other examples. */
        @Override
        public void describeRun(ObjectNode n) {
            n.put("packing", s.packing());
            n.put("loss_on", lossOn());
        }

        @Override
        public void checkSameRun(ObjectNode st, String dir) {
            if (st.path("packing").asBoolean() != s.packing() || !st.path("loss_on").asText().equals(lossOn())) {
                throw new IllegalArgumentException("--resume: checkpoint " + dir + " was trained with data.packing="
                        + st.path("packing").asBoolean() + " train.loss_on=" + st.path("loss_on").asText()
                        + ", this run has " + s.packing() + " / " + lossOn());
            }
        }

        private String lossOn() {
            return s.lossOn().name().toLowerCase(Locale.ROOT);
        }
    }

    // ---------------------------------------------------------------- where a run starts

    private static StageStart fresh(SftSettings s, RunCheckpoints checkpoints, Examples<Demonstration> trainRows,
            Configuration hconf) throws IOException {
        StageStart.refuseToOverwrite(checkpoints, s.training().outputDir());
        ModelStart.Model m = ModelStart.load(new ModelStart.Spec("sft", s.modelInit(), s.tokenizerPath(),
                s.tokenizerVocabSize(), s.dropout(), s.randomPositions(), s.nLayer(), s.nHead(), s.nEmbd(),
                s.training().seed()), () -> SftData.corpus(trainRows), hconf);
        StageStart start = StageStart.fresh(m.config(), m.params(), m.tokenizer());
        if (s.contextLength() - 1 > m.config().model().maxSeqLen()) {
            throw new IllegalArgumentException("data.context_length=" + s.contextLength() + " needs a model with at least "
                    + (s.contextLength() - 1) + " positions; the model has n_positions=" + m.config().model().maxSeqLen());
        }
        return start;
    }
}
