package rlhf.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;

import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.optim.AdamW;
import rlhf.optim.AdamWSettings;
import rlhf.optim.AdamWUpdate;
import rlhf.optim.LrSchedule;
import rlhf.optim.GradClip;
import rlhf.sft.Sequence;
import rlhf.sft.SftLoss;
import rlhf.spark.DataParallelTrainer;
import rlhf.spark.IndexedData;
import rlhf.spark.LossStats;
import rlhf.spark.SparkDefaults;
import rlhf.spark.TrainerConfig;
import rlhf.tensor.Parallel;

/**
 * What Spark costs an SFT step: the same global batch (4 micro-batches of 8 x 256 tokens, 32
 * sequences) trained with the data-parallel trainer on {@code local[2]} (2 partitions, 2 tasks at
 * once) and in one process without Spark (the 4 micro-batches one after another), for a 6-layer
 * 512-wide model and GPT-2 124M, both with GPT-2's vocabulary. Both sides use the same loss, the
 * same kernels and the same kernel pool; the difference is broadcast, task launch, gradient
 * transfer and the ordered sum on the driver.
 *
 * <pre>
 * java -Xmx14g --add-modules=jdk.incubator.vector [Spark's --add-opens] -cp TEST_CLASSPATH \
 *     rlhf.bench.SparkOverheadBench [--model small|gpt2|both] [--steps 3] [--warmup 1] [--master local[2]] [--seq-len 256]
 * </pre>
 * Prints per model: seconds per step and tokens/s of each side (median of --steps after --warmup),
 * their ratio, and the overhead per step.
 */
public final class SparkOverheadBench {

    static final int MICRO = 8;
    static final int ACCUM = 4;
    static final int GLOBAL = MICRO * ACCUM;
    /** Tokens per sequence: 256; --seq-len makes a quick check of the bench itself possible. */
    static int T = 256;

    private SparkOverheadBench() {
    }

    public static void main(String[] args) {
        String model = "both";
        int steps = 3;
        int warmup = 1;
        String master = "local[2]";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> model = args[++i];
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--master" -> master = args[++i];
                case "--seq-len" -> T = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + "; usage: SparkOverheadBench [--model small|gpt2|both] [--steps N] [--warmup N] [--master URL] [--seq-len 256]");
            }
        }
        List<String[]> rows = new ArrayList<>();
        SparkSession spark = SparkSession.builder().config(SparkDefaults.apply(new SparkConf()
                .setAppName("sft-spark-overhead-bench").setMaster(master)
                .set("spark.ui.enabled", "false").set("spark.ui.showConsoleProgress", "false"))).getOrCreate();
        try {
            System.out.printf(Locale.ROOT, "kernel threads %d, master %s, global batch %d x %d tokens "
                    + "(%d micro-batches of %d), steps %d after %d warmup%n",
                    Parallel.threads(), master, GLOBAL, T, ACCUM, MICRO, steps, warmup);
            if (model.equals("small") || model.equals("both")) {
                rows.add(run(spark, "6 layers x 512", GptConfig.gpt2(50257, 1024, 6, 8, 512), steps, warmup));
            }
            if (model.equals("gpt2") || model.equals("both")) {
                rows.add(run(spark, "GPT-2 124M", GptConfig.gpt2Small(), steps, warmup));
            }
        } finally {
            spark.stop();
        }
        System.out.println();
        System.out.printf("%-16s %12s %14s %12s %14s %8s %12s%n", "model", "1 process s", "1 process tok/s",
                "local[2] s", "local[2] tok/s", "ratio", "overhead s");
        for (String[] r : rows) {
            System.out.printf("%-16s %12s %14s %12s %14s %8s %12s%n", (Object[]) r);
        }
    }

    private static String[] run(SparkSession spark, String name, GptConfig cfg, int steps, int warmup) {
        List<Sequence> data = randomSequences(cfg.vocabSize(), 7);
        SftLoss loss = new SftLoss(cfg, MICRO, T + 1, cfg.vocabSize() - 1);
        ParamLayout layout = ParamLayout.of(cfg);
        System.out.printf(Locale.ROOT, "%s: %d parameters%n", name, layout.size());

        // one process: 4 micro-batches in a row, average, clip, AdamW
        float[] params = new float[layout.size()];
        Gpt.init(cfg, params, 1);
        double single;
        {
            SftLoss.State state = loss.newState();
            AdamW adam = new AdamW(layout, 0.9f, 0.999f, 1e-8f, 0f, false);
            float[] grads = new float[params.length];
            long[] seeds = new long[MICRO];
            double[] times = new double[steps];
            for (int s = 0; s < warmup + steps; s++) {
                long t0 = System.nanoTime();
                Arrays.fill(grads, 0f);
                LossStats stats = new LossStats(SftLoss.STATS.length);
                for (int m = 0; m < ACCUM; m++) {
                    loss.accumulate(state, params, data.subList(m * MICRO, (m + 1) * MICRO), seeds, grads, stats);
                }
                double inv = 1.0 / stats.weight();
                for (int i = 0; i < grads.length; i++) {
                    grads[i] = (float) (grads[i] * inv);
                }
                GradClip.clipGlobalNorm(grads, 1f);
                adam.update(params, grads, 1e-4f);
                double sec = (System.nanoTime() - t0) / 1e9;
                System.out.printf(Locale.ROOT, "  1 process step %d: %.2f s (loss %.4f)%n", s, sec, stats.loss() / stats.weight());
                if (s >= warmup) {
                    times[s - warmup] = sec;
                }
            }
            single = median(times);
        }

        // local[2]: the trainer, 2 partitions of 16 sequences, each task 2 micro-batches of 8
        Gpt.init(cfg, params, 1);
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        IndexedData<Sequence> d = IndexedData.cache(sc.parallelize(data, 2), StorageLevel.MEMORY_ONLY(), "bench data");
        DataParallelTrainer<Sequence, SftLoss.State> trainer = new DataParallelTrainer<>(sc,
                new TrainerConfig("bench", GLOBAL, MICRO, 1, 1f, warmup + steps), loss, params,
                new AdamWUpdate(new AdamWSettings(0f, 0.9f, 0.999f, 1e-8f, 1f), layout, LrSchedule.constant(1e-4f)), d);
        double[] times = new double[steps];
        for (int s = 0; s < warmup + steps; s++) {
            long t0 = System.nanoTime();
            double l = trainer.step().loss();
            double sec = (System.nanoTime() - t0) / 1e9;
            System.out.printf(Locale.ROOT, "  local[2] step %d: %.2f s (loss %.4f)%n", s, sec, l);
            if (s >= warmup) {
                times[s - warmup] = sec;
            }
        }
        d.unpersist();
        double spark2 = median(times);
        double tokens = (double) GLOBAL * T;
        return new String[] {name, fmt(single), fmt(tokens / single), fmt(spark2), fmt(tokens / spark2),
                String.format(Locale.ROOT, "%.3f", spark2 / single), fmt(spark2 - single)};
    }

    /** GLOBAL sequences of T random tokens, every position with a target (the next token). */
    static List<Sequence> randomSequences(int vocab, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<Sequence> out = new ArrayList<>();
        for (int b = 0; b < GLOBAL; b++) {
            int[] ids = new int[T + 1];
            for (int t = 0; t <= T; t++) {
                ids[t] = rng.nextInt(vocab);
            }
            out.add(Sequence.of(Arrays.copyOf(ids, T), Arrays.copyOfRange(ids, 1, T + 1)));
        }
        return out;
    }

    static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, Math.abs(v) >= 100 ? "%.0f" : "%.2f", v);
    }
}
