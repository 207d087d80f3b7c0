package rlhf.sft;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.config.Args;
import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.config.SparkSessions;
import rlhf.data.Demonstration;
import rlhf.data.Examples;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.io.RunCheckpoints;
import rlhf.io.Safetensors;
import rlhf.metrics.ConsoleProgress;
import rlhf.metrics.MetricsLog;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.optim.AdamW;
import rlhf.optim.LrSchedule;
import rlhf.spark.DataParallelTrainer;
import rlhf.spark.ModelStart;
import rlhf.spark.StepResult;
import rlhf.spark.TrainerConfig;
import rlhf.spark.TrainerState;
import rlhf.tokenizer.BpeTokenizer;

/**
 * Supervised fine-tuning: {@code bin/rlhf sft --config FILE [--set k=v ...] [--resume]}, or
 * {@code spark-submit --class rlhf.sft.SftJob rlhf-pipeline-sft.jar ...}. Keys: conf/sft.properties.
 *
 * <p>The recipe ({@link #run}): load the configuration; read the demonstrations; start from the
 * newest checkpoint (--resume), a pretrained checkpoint, or a random model with a tokenizer
 * trained on the data; tokenize and cache the data on the executors; hand the data-parallel
 * trainer the SFT loss; evaluate, log and checkpoint as it goes; save the fine-tuned model.
 *
 * <p>A resumed run ends with exactly the weights of an uninterrupted one: a checkpoint holds the
 * F32 weights, the AdamW moments and step, and the trainer's step (hence schedule position, data
 * position and every seed, which derive from (train.seed, step, example index)).
 */
public final class SftJob {

    private static final Logger LOG = LoggerFactory.getLogger(SftJob.class);
    private SftJob() {
    }

    public static void main(String[] argv) throws IOException {
        Args.Spec spec = Args.command("sft", "supervised fine-tuning of a GPT model on instruction data");
        Args args;
        JobConfig config;
        SftSettings settings;
        try {
            args = spec.parse(argv);
            if (args.help()) {
                System.out.print(spec.usage(JobConfig.defaults("sft")));
                return;
            }
            config = JobConfig.load("sft", args);
            settings = SftSettings.from(config);
        } catch (ConfigException e) {
            // a mistake on the command line or in the config file: the message says it all
            System.err.println("sft: " + e.getMessage());
            System.exit(2);
            return;
        }
        LOG.info("sft configuration changes:\n{}", config.describeChanges());
        SparkSession spark = SparkSessions.create("rlhf sft", args.master(), config);
        try {
            Result r = run(spark, settings, args.resume());
            System.err.println(r.summary());
        } finally {
            spark.stop();
        }
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
        RunCheckpoints checkpoints = new RunCheckpoints(s.outputDir(), s.checkpointEvery(), s.keepLast(), hconf);

        // 1. data rows, and the model + tokenizer we start from
        Examples<Demonstration> trainRows = SftData.read(spark, s.trainPath(), s);
        Start start = resume ? resumeFrom(checkpoints, hconf) : fresh(s, checkpoints, trainRows, hconf);
        GptConfig model = start.config.model();
        LOG.info("sft model: {} layers, {} heads, width {}, vocabulary {}, {} parameters{}", model.nLayer(),
                model.nHead(), model.nEmbd(), model.vocabSize(), start.params.length,
                resume ? " (resumed at step " + start.state.path("step").asInt() + ")" : "");

        // 2. tokenized, cached on the executors
        SftData.Prepared train = SftData.prepare(sc, trainRows, start.tokenizer, s, "sft train data " + s.trainPath());
        SftData.Prepared eval = s.evalPath().isEmpty() ? null
                : SftData.prepare(sc, SftData.read(spark, s.evalPath().get(), s), start.tokenizer, s,
                        "sft eval data " + s.evalPath().get());
        try {
            return train(sc, s, start, train, eval, checkpoints, resume);
        } finally {
            train.release();
            if (eval != null) {
                eval.release();
            }
        }
    }

    private static Result train(JavaSparkContext sc, SftSettings s, Start start, SftData.Prepared train,
            SftData.Prepared eval, RunCheckpoints checkpoints, boolean resume) throws IOException {
        // 3. the trainer with the SFT loss, AdamW and the schedule
        GptConfig model = start.config.model();
        SftLoss loss = new SftLoss(model, s.microBatch(), s.contextLength(), start.tokenizer.eosId());
        long stepsPerEpoch = Math.max(1, train.report().sequences() / s.globalBatch());
        int total = s.steps() > 0 ? s.steps() : (int) Math.min(Integer.MAX_VALUE, s.epochs() * stepsPerEpoch);
        LrSchedule schedule = new LrSchedule(s.lr(), s.schedule() == SftSettings.Schedule.CONSTANT ? s.lr() : s.minLr(),
                Math.min(s.warmupSteps(), total), total);
        AdamW adam = new AdamW(ParamLayout.of(model), s.beta1(), s.beta2(), s.eps(), s.weightDecay(), false);
        DataParallelTrainer<Sequence, SftLoss.State> trainer = new DataParallelTrainer<>(sc,
                new TrainerConfig("sft", s.globalBatch(), s.microBatch(), s.seed(), s.gradClip(), total), loss,
                start.params, (p, g, step) -> adam.update(p, g, schedule.lr(step)), train.data());
        Progress progress = new Progress();
        if (resume) {
            checkSameRun(start.state, s, train.report(), start.dir);
            trainer.resumeFrom(TrainerState.fromJson(start.state, start.dir + "/" + Checkpoint.TRAINER_STATE));
            adam.restore(start.training.adamM(), start.training.adamV(), start.state.get("adam_step").asLong());
            progress.examples = start.state.get("examples_seen").asLong();
            progress.tokens = start.state.get("tokens_seen").asLong();
            progress.elapsed = start.state.get("elapsed_seconds").asDouble();
        }
        int first = trainer.state().step();
        int stopAt = s.stopAtStep() > 0 ? Math.min(s.stopAtStep(), total) : total;
        long evalLimit = s.evalBatches() > 0 ? (long) s.evalBatches() * s.globalBatch() : Long.MAX_VALUE;

        List<Double> losses = new ArrayList<>();
        List<EvalPoint> evals = new ArrayList<>();
        ConsoleProgress console = ConsoleProgress.onStderr("sft", total, first,
                List.of("loss", "eval_loss", "lr", "grad_norm"));
        try (MetricsLog metrics = resume ? MetricsLog.resume(s.metricsPath(), first) : MetricsLog.create(s.metricsPath())) {
            if (eval != null && !resume) {
                EvalPoint e = evaluate(sc, trainer, eval, loss, s, evalLimit, 0);
                evals.add(e);
                metrics.log(0, Map.of("eval_loss", e.loss(), "eval_ppl", e.perplexity()));
            }
            // 4. the loop: step, log, evaluate, checkpoint
            for (int step = first; step < stopAt; step++) {
                long t0 = System.nanoTime();
                StepResult r = trainer.step();
                double seconds = (System.nanoTime() - t0) / 1e9;
                int done = r.step() + 1;
                long tokens = (long) r.sums().extra(0);
                progress.examples += (long) r.sums().extra(1);
                progress.tokens += tokens;
                progress.elapsed += seconds;
                losses.add(r.loss());
                Map<String, Double> m = new LinkedHashMap<>();
                m.put("loss", r.loss());
                m.put("lr", (double) schedule.lr(r.step()));
                m.put("grad_norm", (double) r.gradNorm());
                m.put("tokens_per_s", tokens / seconds);
                m.put("examples_seen", (double) progress.examples);
                m.put("tokens_seen", (double) progress.tokens);
                m.put("elapsed_s", progress.elapsed);
                if (eval != null && (done == total || (s.evalEvery() > 0 && done % s.evalEvery() == 0))) {
                    EvalPoint e = evaluate(sc, trainer, eval, loss, s, evalLimit, done);
                    evals.add(e);
                    m.put("eval_loss", e.loss());
                    m.put("eval_ppl", e.perplexity());
                }
                metrics.log(done, m);
                console.update(done, tokens, m);
                if (checkpoints.due(done) || done == stopAt) {
                    Checkpoint c = new Checkpoint(start.config, trainer.params(), start.tokenizerFiles,
                            new Checkpoint.TrainingState(state(trainer, adam, progress, s, train.report(), total),
                                    adam.m(), adam.v()));
                    LOG.info("sft: saved {}", checkpoints.save(done, c, Safetensors.Dtype.F32));
                }
            }
        }
        // 5. the fine-tuned model, for the reward and PPO stages
        int step = trainer.state().step();
        String finalDir = null;
        if (step >= total) {
            finalDir = s.outputDir().replaceAll("/+$", "") + "/final";
            new Checkpoint(start.config.withExtra("rlhf_stage", "sft"), trainer.params(), start.tokenizerFiles, null)
                    .save(finalDir, sc.hadoopConfiguration());
        }
        return new Result(trainer.params(), step, total, train.report(), eval == null ? null : eval.report(), losses,
                evals, finalDir, start.config);
    }

    private static EvalPoint evaluate(JavaSparkContext sc, DataParallelTrainer<Sequence, SftLoss.State> trainer,
            SftData.Prepared eval, SftLoss loss, SftSettings s, long limit, int step) {
        Broadcast<float[]> bc = trainer.broadcastSnapshot();
        try {
            SftEval.Result r = SftEval.run(sc, eval.data(), bc, loss, s.microBatch(), limit,
                    "sft evaluation after step " + step);
            return new EvalPoint(step, r.loss(), r.perplexity());
        } finally {
            bc.destroy();
        }
    }

    /** Counters that continue across a resume. */
    private static final class Progress {
        long examples;
        long tokens;
        double elapsed;
    }

    // ---------------------------------------------------------------- where a run starts

    /** The model, tokenizer and (when resuming) training state a run starts from. */
    private record Start(ModelConfigJson config, float[] params, BpeTokenizer tokenizer,
            Checkpoint.Tokenizer tokenizerFiles, Checkpoint.TrainingState training, ObjectNode state, String dir) {
    }

    private static Start resumeFrom(RunCheckpoints checkpoints, Configuration hconf) throws IOException {
        String dir = checkpoints.newestComplete().orElseThrow(() -> new IllegalArgumentException(
                "--resume: no complete checkpoint-<step> in output.dir " + checkpoints.dirFor(0).replaceAll("/checkpoint-0$", "")
                        + "; run without --resume to start, or set output.dir to the run to continue"));
        Checkpoint c = Checkpoint.load(dir, true, hconf);
        if (c.training() == null || c.training().adamM() == null || c.tokenizer() == null) {
            throw new IllegalArgumentException("--resume: checkpoint " + dir + " has no "
                    + (c.tokenizer() == null ? "tokenizer files" : "trainer state and optimizer moments")
                    + "; it cannot be resumed");
        }
        LOG.info("sft: resuming from {}", dir);
        return new Start(c.config(), c.params(), c.tokenizer().load(dir), c.tokenizer(), c.training(),
                c.training().trainerState(), dir);
    }

    private static Start fresh(SftSettings s, RunCheckpoints checkpoints, Examples<Demonstration> trainRows,
            Configuration hconf) throws IOException {
        if (!checkpoints.completeSteps().isEmpty()) {
            throw new IllegalArgumentException("output.dir " + s.outputDir() + " already holds checkpoints "
                    + checkpoints.completeSteps() + ": continue that run with --resume, or set another output.dir");
        }
        ModelStart.Model m = ModelStart.load(new ModelStart.Spec("sft", s.modelInit(), s.tokenizerPath(),
                s.tokenizerVocabSize(), s.dropout(), s.randomPositions(), s.nLayer(), s.nHead(), s.nEmbd(), s.seed()),
                () -> SftData.corpus(trainRows), hconf);
        BpeTokenizer tok = m.tokenizer();
        ModelConfigJson config = m.config();
        float[] params = m.params();
        if (tok.vocabSize() > config.model().vocabSize()) {
            throw new IllegalArgumentException("the tokenizer has " + tok.vocabSize() + " tokens but the model's "
                    + "vocabulary has " + config.model().vocabSize() + " (vocab_size in config.json)");
        }
        if (s.contextLength() - 1 > config.model().maxSeqLen()) {
            throw new IllegalArgumentException("data.context_length=" + s.contextLength() + " needs a model with at least "
                    + (s.contextLength() - 1) + " positions; the model has n_positions=" + config.model().maxSeqLen());
        }
        return new Start(config, params, tok, Checkpoint.Tokenizer.of(tok), null, null, null);
    }

    // ---------------------------------------------------------------- trainer state

    /**
     * trainer_state.json: where the run is (step, epoch, position in the epoch's order), the RNG
     * state (every draw derives from the seed and the step), the AdamW step, counters, and the
     * settings a resume must keep for the data position to mean the same examples.
     */
    private static ObjectNode state(DataParallelTrainer<Sequence, SftLoss.State> trainer, AdamW adam, Progress p,
            SftSettings s, SftData.Report train, int total) {
        ObjectNode n = trainer.state().toJson();
        n.put("adam_step", adam.step());
        n.put("examples_seen", p.examples);
        n.put("tokens_seen", p.tokens);
        n.put("elapsed_seconds", p.elapsed);
        n.put("total_steps", total);
        n.put("data_sequences", train.sequences());
        n.put("global_batch", s.globalBatch());
        n.put("context_length", s.contextLength());
        n.put("packing", s.packing());
        n.put("loss_on", s.lossOn().name().toLowerCase(Locale.ROOT));
        return n;
    }

    /** A resume must see the same data layout and batches, or its data position means other examples. */
    private static void checkSameRun(ObjectNode st, SftSettings s, SftData.Report train, String dir) {
        check(st, "data_sequences", train.sequences(), dir, "the training data (after tokenization and packing)");
        check(st, "global_batch", s.globalBatch(), dir, "train.global_batch");
        check(st, "context_length", s.contextLength(), dir, "data.context_length");
        check(st, "seed", s.seed(), dir, "train.seed");
        if (st.path("packing").asBoolean() != s.packing()
                || !st.path("loss_on").asText().equals(s.lossOn().name().toLowerCase(Locale.ROOT))) {
            throw new IllegalArgumentException("--resume: checkpoint " + dir + " was trained with data.packing="
                    + st.path("packing").asBoolean() + " train.loss_on=" + st.path("loss_on").asText()
                    + ", this run has " + s.packing() + " / " + s.lossOn().name().toLowerCase(Locale.ROOT));
        }
        for (String k : List.of("adam_step", "examples_seen", "tokens_seen", "elapsed_seconds")) {
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
