package rlhf.spark;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaSparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.node.ObjectNode;

import rlhf.io.Checkpoint;
import rlhf.io.RunCheckpoints;
import rlhf.io.Safetensors;
import rlhf.metrics.ConsoleProgress;
import rlhf.metrics.MetricsLog;
import rlhf.model.ParamLayout;
import rlhf.optim.AdamWUpdate;
import rlhf.optim.LrSchedule;
import rlhf.optim.OptimizerState;

/**
 * The training loop of a supervised stage (SFT, reward model): AdamW on its schedule through the
 * {@link DataParallelTrainer}, step by step, each step logged to metrics.jsonl and the console,
 * evaluated every eval.every steps and checkpointed every checkpoint.every steps. The job says
 * what is its own through a {@link Job}; it writes its final model from the {@link Outcome}.
 *
 * <p>A resumed run ends with exactly the weights of an uninterrupted one: a checkpoint holds the
 * F32 weights, the AdamW moments and step, and the trainer's step (hence schedule position, data
 * position and every seed, which derive from (train.seed, step, example index)). The job's counters
 * and the wall time continue from trainer_state.json.
 */
public final class StageLoop {

    private static final Logger LOG = LoggerFactory.getLogger(StageLoop.class);

    private static final String ELAPSED = "elapsed_seconds";

    private StageLoop() {
    }

    /** What differs between stages; {@code P} is the job's evaluation point. */
    public interface Job<P> {

        /** The job's name ("sft"): the console label, Spark job groups, log lines. */
        String name();

        /** The metrics shown on the console line. */
        List<String> consoleKeys();

        /**
         * Counts that continue across a resume ("examples_seen"), in the order they are logged:
         * under these names in metrics.jsonl and in trainer_state.json.
         */
        List<String> counters();

        /** What a step adds to the metrics besides loss, lr and grad_norm. */
        StepMetrics stepMetrics(StepResult step);

        /** The evaluation, or null when the run has no evaluation data. */
        Evaluation<P> evaluation();

        /**
         * The number of training examples (an epoch is that many divided by the global batch),
         * under the name trainer_state.json gives it ("data_sequences"): a resume must find the
         * same number, with the same global batch and seed, for its data position to mean the
         * same examples.
         */
        SameRun trainingData();

        /**
         * The settings that decide how data rows become examples ("context_length"), which a
         * resume must find unchanged too; numbers, kept in trainer_state.json in this order.
         */
        List<SameRun> dataLayout();

        /** Adds to trainer_state.json what else a resume must find unchanged; nothing by default. */
        default void describeRun(ObjectNode state) {
        }

        /** Throws when what {@link #describeRun} wrote differs from this run's; nothing by default. */
        default void checkSameRun(ObjectNode state, String dir) {
        }

        /**
         * What reading the data found, for the first line (step 0) of metrics.jsonl: see
         * {@link StageLoop#dataMetrics}; nothing by default.
         */
        default Map<String, Double> dataMetrics() {
            return Map.of();
        }
    }

    /** A dataset's rows, and its bad ones per kind of problem ("'response' is null" -> 3). */
    public record DataCounts(long rows, Map<String, Long> badByKind) {
    }

    /**
     * The training (and evaluation, when not null) data's counts as metrics: {@code train_rows},
     * {@code train_bad_rows} and one {@code train_bad_rows[KIND]} per kind of problem
     * ("train_bad_rows['response' is null]": 3); the same with {@code eval_}.
     */
    public static Map<String, Double> dataMetrics(DataCounts train, DataCounts eval) {
        Map<String, Double> m = new LinkedHashMap<>();
        putCounts(m, "train", train);
        if (eval != null) {
            putCounts(m, "eval", eval);
        }
        return m;
    }

    private static void putCounts(Map<String, Double> m, String prefix, DataCounts c) {
        m.put(prefix + "_rows", (double) c.rows());
        m.put(prefix + "_bad_rows", (double) c.badByKind().values().stream().mapToLong(Long::longValue).sum());
        c.badByKind().forEach((kind, n) -> m.put(prefix + "_bad_rows[" + kind + "]", (double) n));
    }

    /**
     * A number of trainer_state.json that a resume must find unchanged.
     *
     * @param what the setting or data it stands for, in the message when it differs
     */
    public record SameRun(String key, long value, String what) {
    }

    /** An evaluation of the current weights. */
    public interface Evaluation<P> {

        /** Evaluates {@code params}, the weights after {@code step} steps. */
        P evaluate(float[] params, int step);

        /** The point as metrics ("eval_loss"...), in the order they are logged. */
        Map<String, Double> metrics(P point);
    }

    /** What one step adds to the metrics, in the order they are logged. */
    public static final class StepMetrics {
        private final long tokens;
        private final Map<String, Double> values = new LinkedHashMap<>();
        private final Map<String, Double> perSecond = new LinkedHashMap<>();
        private final Map<String, Long> counted = new LinkedHashMap<>();

        /** @param tokens tokens the step processed, for the console's throughput */
        public StepMetrics(long tokens) {
            this.tokens = tokens;
        }

        /** A metric logged as it is, after the loss ("accuracy"). */
        public StepMetrics value(String name, double v) {
            values.put(name, v);
            return this;
        }

        /** An amount of work done by the step, logged as {@code <name>_per_s}. */
        public StepMetrics perSecond(String name, double amount) {
            perSecond.put(name, amount);
            return this;
        }

        /** Adds {@code n} to the counter {@code name} of {@link Job#counters()}. */
        public StepMetrics count(String name, long n) {
            counted.put(name, n);
            return this;
        }
    }

    /**
     * What the loop did.
     *
     * @param step   steps done (all of them, or train.stop_at_step)
     * @param losses training loss of each step this invocation ran
     * @param evals  the evaluations this invocation ran, in step order
     * @param params the weights after the last step
     */
    public record Outcome<P>(int step, int totalSteps, List<Double> losses, List<P> evals, float[] params) {

        /** Whether the run reached its last step (rather than train.stop_at_step). */
        public boolean finished() {
            return step >= totalSteps;
        }
    }

    /**
     * Trains from {@code start} (resuming its training state when it has one) until the last step
     * or train.stop_at_step; evaluates first when a fresh run has an evaluation.
     */
    public static <E, S, P> Outcome<P> run(JavaSparkContext sc, TrainingSettings s, StageStart start,
            PartitionLoss<E, S> loss, IndexedData<E> data, RunCheckpoints checkpoints, Job<P> job)
            throws IOException {
        int total = s.totalSteps(job.trainingData().value());
        int width = start.config().model().nEmbd();
        LrSchedule schedule = s.lrSchedule(total, width);
        if (s.autoLr()) {
            LOG.info("{}: learning rate {} decaying to {} (auto for {} a model of width {})", job.name(),
                    s.peakLr(width), s.endLr(width), s.fineTuning() ? "fine-tuning" : "training from scratch", width);
        }
        DataParallelTrainer<E, S> trainer = new DataParallelTrainer<>(sc, s.trainerConfig(job.name(), total), loss,
                start.params(), new AdamWUpdate(s.adamW(), ParamLayout.of(start.config().model()), schedule), data);
        try {
            return run(s, start, checkpoints, job, total, schedule, trainer);
        } finally {
            trainer.close();
        }
    }

    private static <E, S, P> Outcome<P> run(TrainingSettings s, StageStart start, RunCheckpoints checkpoints,
            Job<P> job, int total, LrSchedule schedule, DataParallelTrainer<E, S> trainer) throws IOException {
        Progress progress = new Progress(job.counters());
        if (start.resumed()) {
            resume(start, s, job, trainer, progress);
        }
        int first = trainer.state().step();
        int stopAt = s.stopAt(total);
        Evaluation<P> evaluation = job.evaluation();

        List<Double> losses = new ArrayList<>();
        List<P> evals = new ArrayList<>();
        ConsoleProgress console = ConsoleProgress.onStderr(job.name(), total, first, job.consoleKeys());
        try (MetricsLog metrics = start.resumed() ? MetricsLog.resume(s.metricsPath(), first)
                : MetricsLog.create(s.metricsPath())) {
            if (!start.resumed()) {
                Map<String, Double> atStart = new LinkedHashMap<>(job.dataMetrics());
                if (evaluation != null) {
                    P e = evaluation.evaluate(trainer.params(), 0);
                    evals.add(e);
                    atStart.putAll(evaluation.metrics(e));
                }
                if (!atStart.isEmpty()) {
                    metrics.log(0, atStart);
                }
            }
            for (int step = first; step < stopAt; step++) {
                long t0 = System.nanoTime();
                StepResult r = trainer.step();
                double seconds = (System.nanoTime() - t0) / 1e9;
                int done = r.step() + 1;
                StepMetrics sm = job.stepMetrics(r);
                progress.add(sm, seconds);
                losses.add(r.loss());
                Map<String, Double> m = stepMetrics(r, sm, schedule, seconds, progress);
                if (evaluation != null && s.evaluatesAfter(done, total)) {
                    P e = evaluation.evaluate(trainer.params(), done);
                    evals.add(e);
                    m.putAll(evaluation.metrics(e));
                }
                metrics.log(done, m);
                console.update(done, sm.tokens, m);
                if (checkpoints.due(done) || done == stopAt) {
                    // checkpoint.moments=false: weights and trainer state only (the driver need not
                    // hold a model's moments, 8 bytes per parameter); such a checkpoint is not resumable
                    OptimizerState adam = s.checkpointMoments() ? trainer.optimizerState() : null;
                    ObjectNode state = trainerState(trainer, adam, progress, total, s, job);
                    Checkpoint c = new Checkpoint(start.config(), trainer.params(), start.tokenizerFiles(),
                            new Checkpoint.TrainingState(state, adam == null ? null : adam.slots()[0],
                                    adam == null ? null : adam.slots()[1]));
                    LOG.info("{}: saved {}", job.name(), checkpoints.save(done, c, Safetensors.Dtype.F32));
                }
            }
        }
        return new Outcome<>(trainer.state().step(), total, losses, evals, trainer.params());
    }

    /** Counts that continue across a resume: the job's counters and the wall time of the steps. */
    private static final class Progress {
        final Map<String, Long> counters = new LinkedHashMap<>();
        double elapsed;

        Progress(List<String> names) {
            names.forEach(name -> counters.put(name, 0L));
        }

        void add(StepMetrics step, double seconds) {
            step.counted.forEach((name, n) -> {
                if (counters.computeIfPresent(name, (k, v) -> v + n) == null) {
                    throw new IllegalArgumentException("'" + name + "' is not one of the counters " + counters.keySet());
                }
            });
            elapsed += seconds;
        }
    }

    /** A step's line of metrics.jsonl, before the evaluation's metrics. */
    private static Map<String, Double> stepMetrics(StepResult r, StepMetrics sm, LrSchedule schedule, double seconds,
            Progress progress) {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("loss", r.loss());
        m.putAll(sm.values);
        m.put("lr", (double) schedule.lr(r.step()));
        m.put("grad_norm", (double) r.gradNorm());
        sm.perSecond.forEach((name, amount) -> m.put(name + "_per_s", amount / seconds));
        progress.counters.forEach((name, n) -> m.put(name, (double) n));
        m.put("elapsed_s", progress.elapsed);
        m.putAll(r.exchange().metrics());
        return m;
    }

    /**
     * Continues the checkpoint's run: checks that it is the same run, then restores the trainer's
     * position, the AdamW moments and step, and the progress counts.
     */
    private static void resume(StageStart start, TrainingSettings s, Job<?> job, DataParallelTrainer<?, ?> trainer,
            Progress progress) {
        ObjectNode st = start.trainerState();
        String dir = start.dir();
        for (SameRun same : sameRun(s, job)) {
            TrainerState.requireSame(st, same.key(), same.value(), dir, same.what());
        }
        TrainerState.requireSame(st, "seed", s.seed(), dir, "train.seed");
        job.checkSameRun(st, dir);
        requireKeys(st, job.counters(), dir);
        trainer.resumeFrom(TrainerState.fromJson(st, dir + "/" + Checkpoint.TRAINER_STATE));
        trainer.restoreOptimizer(new OptimizerState(new float[][] {start.training().adamM(), start.training().adamV()},
                st.get("adam_step").asLong()));
        progress.counters.replaceAll((name, zero) -> st.get(name).asLong());
        progress.elapsed = st.get(ELAPSED).asDouble();
    }

    /**
     * trainer_state.json: where the run is (step, epoch, position in the epoch's order), the RNG
     * state (every draw derives from the seed and the step), the AdamW step, the counters, and what
     * a resume must find unchanged (besides the seed).
     */
    private static ObjectNode trainerState(DataParallelTrainer<?, ?> trainer, OptimizerState adam, Progress progress,
            int total, TrainingSettings s, Job<?> job) {
        ObjectNode n = trainer.state().toJson();
        if (adam != null) {
            n.put("adam_step", adam.updates());
        }
        progress.counters.forEach(n::put);
        n.put(ELAPSED, progress.elapsed);
        n.put("total_steps", total);
        sameRun(s, job).forEach(same -> n.put(same.key(), same.value()));
        job.describeRun(n);
        return n;
    }

    /** The numbers of trainer_state.json a resume must find unchanged, in the order they are kept. */
    private static List<SameRun> sameRun(TrainingSettings s, Job<?> job) {
        List<SameRun> same = new ArrayList<>();
        same.add(job.trainingData());
        same.add(new SameRun("global_batch", s.globalBatch(), "train.global_batch"));
        same.addAll(job.dataLayout());
        return same;
    }

    private static void requireKeys(ObjectNode st, List<String> counters, String dir) {
        List<String> keys = new ArrayList<>();
        keys.add("adam_step");
        keys.addAll(counters);
        keys.add(ELAPSED);
        for (String k : keys) {
            if (!st.has(k)) {
                throw new IllegalArgumentException("--resume: " + dir + "/" + Checkpoint.TRAINER_STATE + " has no '" + k + "'");
            }
        }
    }
}
