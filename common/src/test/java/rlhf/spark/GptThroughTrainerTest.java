package rlhf.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.Losses;
import rlhf.model.ParamLayout;
import rlhf.optim.AdamWSettings;
import rlhf.optim.AdamWUpdate;
import rlhf.optim.GradClip;
import rlhf.optim.LrSchedule;

/**
 * The real model and optimizer through the trainer: a tiny GPT-2 language model with AdamW on
 * local[2] ends where a plain loop over the same global batches ends.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class GptThroughTrainerTest {

    static final int STEPS = 8;
    /**
     * 2 partitions sum gradients in another order. AdamW divides each component by its own RMS, so
     * last-bit differences in near-zero components move those parameters by up to a fraction of
     * the learning rate (1e-2): 2e-4 absolute (measured: up to 4e-5).
     */
    static final float ADAMW_TOLERANCE = 2e-4f;
    static final List<int[]> DATA = sequences(40, 3);

    private static SparkSession spark;
    private static JavaSparkContext sc;

    @BeforeAll
    static void start() {
        spark = TestSpark.local(2, "gpt-trainer-test");
        sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** Next-token cross-entropy summed over tokens; rows padded with token 0 and target -1. */
    static final class LmLoss implements PartitionLoss<int[], Gpt> {
        private static final long serialVersionUID = 1L;
        // GptConfig is not Serializable (yet): ship the dropout rate and rebuild the tiny shape.
        final float dropout;
        final int microBatch;
        final int maxT;
        transient GptConfig cfg;

        LmLoss(float dropout, int microBatch, int maxT) {
            this.dropout = dropout;
            this.microBatch = microBatch;
            this.maxT = maxT;
        }

        GptConfig cfg() {
            if (cfg == null) {
                cfg = tiny(dropout);
            }
            return cfg;
        }

        @Override
        public String stateKey() {
            return "test-gpt-lm:" + cfg() + ":" + microBatch + "x" + maxT;
        }

        @Override
        public Gpt createState(int paramCount) {
            return new Gpt(cfg(), microBatch, maxT);
        }

        @Override
        public void accumulate(Gpt gpt, float[] p, List<int[]> examples, long[] seeds, float[] g, LossStats stats) {
            int B = examples.size();
            int T = examples.stream().mapToInt(e -> e.length).max().orElseThrow();
            int[] tokens = new int[B * T];
            int[] targets = new int[B * T];
            Arrays.fill(targets, -1);
            for (int b = 0; b < B; b++) {
                int[] e = examples.get(b);
                System.arraycopy(e, 0, tokens, b * T, e.length);
                for (int t = 0; t + 1 < e.length; t++) {
                    targets[b * T + t] = e[t + 1];
                }
            }
            float[] logp = new float[B * T];
            float[] dlogp = new float[B * T];
            // one dropout seed per example: the masks do not depend on how examples are grouped
            gpt.forward(p, tokens, null, null, B, T, cfg().hasDropout(), seeds);
            gpt.lmHeadForward(p, targets, 1f, logp, null);
            stats.addLoss(Losses.tokenCrossEntropySum(logp, targets, B * T), Losses.countTargets(targets, B * T));
            Losses.tokenCrossEntropyBackward(dlogp, targets, B * T, 1f);
            gpt.lmHeadBackward(p, g, dlogp, null);
            gpt.backward(p, g);
        }
    }

    /** n arithmetic progressions mod 13 of 3..8 tokens: learnable next-token structure. */
    static List<int[]> sequences(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] s = new int[3 + r.nextInt(6)];
            int start = r.nextInt(13);
            int step = 1 + r.nextInt(3);
            for (int t = 0; t < s.length; t++) {
                s[t] = (start + t * step) % 13;
            }
            out.add(s);
        }
        return out;
    }

    static GptConfig tiny(float dropout) {
        return GptConfig.gpt2(13, 16, 2, 2, 16).withDropout(dropout, dropout, dropout);
    }

    static float[] init(GptConfig cfg) {
        float[] p = new float[ParamLayout.of(cfg).size()];
        Gpt.init(cfg, p, 5);
        return p;
    }

    static AdamWUpdate adamw(GptConfig cfg) {
        return new AdamWUpdate(new AdamWSettings(0.01f, 0.9f, 0.95f, 1e-8f, 1f), ParamLayout.of(cfg),
                new LrSchedule(1e-2f, 1e-3f, 2, STEPS));
    }

    static float[] train(TrainerConfig c, float dropout, int partitions) {
        GptConfig cfg = tiny(dropout);
        IndexedData<int[]> d = IndexedData.cache(sc.parallelize(DATA, partitions), StorageLevel.MEMORY_ONLY(), "seqs");
        try {
            float[] p = init(cfg);
            var t = new DataParallelTrainer<>(sc, c, new LmLoss(dropout, c.microBatch(), 8), p, adamw(cfg), d);
            StepResult first = t.step();
            StepResult last = first;
            for (int s = 1; s < STEPS; s++) {
                last = t.step();
            }
            assertTrue(last.loss() < first.loss(), "loss should fall: " + first.loss() + " -> " + last.loss());
            float[] out = t.params();
            t.close();
            return out;
        } finally {
            d.unpersist();
        }
    }

    /** The plain loop: same batches, index order, micro-batches, mean per token, clip, AdamW. */
    static float[] reference(TrainerConfig c, float dropout) {
        GptConfig cfg = tiny(dropout);
        LmLoss loss = new LmLoss(dropout, c.microBatch(), 8);
        Gpt gpt = loss.createState(0);
        float[] p = init(cfg);
        AdamWUpdate opt = adamw(cfg);
        float[][] moments = new float[2][p.length];
        long n = DATA.size();
        long spe = n / c.globalBatch();
        for (int s = 0; s < STEPS; s++) {
            EpochPermutation perm = new EpochPermutation(n, c.seed(), s / spe);
            float[] g = new float[p.length];
            LossStats stats = new LossStats(0);
            List<int[]> mb = new ArrayList<>();
            long[] seeds = new long[c.microBatch()];
            for (int i = 0; i < n; i++) {
                if (perm.position(i) / c.globalBatch() == s % spe) {
                    seeds[mb.size()] = Seeds.forExample(c.seed(), s, i);
                    mb.add(DATA.get(i));
                    if (mb.size() == c.microBatch()) {
                        loss.accumulate(gpt, p, mb, seeds, g, stats);
                        mb.clear();
                    }
                }
            }
            if (!mb.isEmpty()) {
                loss.accumulate(gpt, p, mb, Arrays.copyOf(seeds, mb.size()), g, stats);
            }
            for (int i = 0; i < g.length; i++) {
                g[i] = (float) (g[i] / stats.weight());
            }
            GradClip.clipGlobalNorm(g, c.maxGradNorm());
            opt.update(p, g, 1f, moments, 0, s, s);
        }
        return p;
    }

    @Test
    void dropoutWithOneExamplePerMicroBatchIsPartitionIndependent() {
        TrainerConfig c = new TrainerConfig("gpt", 8, 1, 11, 1.0f, STEPS);
        float[] ref = reference(c, 0.1f);
        float[] one = train(c, 0.1f, 1);
        float[] two = train(c, 0.1f, 2);
        assertArrayEquals(ref, one, SoftmaxRegression.diff(ref, one));
        assertArrayEquals(ref, two, ADAMW_TOLERANCE, "2 partitions within 2e-4: " + SoftmaxRegression.diff(ref, two));
    }

    /** Micro-batches of 3 padded to their longest row: 2 partitions group the examples differently. */
    @Test
    void dropoutWithPaddedMicroBatchesOfThreeIsPartitionIndependent() {
        TrainerConfig c = new TrainerConfig("gpt", 8, 3, 11, 1.0f, STEPS);
        float[] ref = reference(c, 0.1f);
        float[] one = train(c, 0.1f, 1);
        float[] two = train(c, 0.1f, 2);
        assertArrayEquals(ref, one, SoftmaxRegression.diff(ref, one));
        assertArrayEquals(ref, two, ADAMW_TOLERANCE, "2 partitions within 2e-4: " + SoftmaxRegression.diff(ref, two));
    }

    /**
     * The sharded exchange cuts the gradient into shards summed by separate tasks, and AdamW runs
     * per shard against moments kept in cached RDD partitions: the same bits as the driver's sum,
     * norm and AdamW over whole arrays, with one partition (the plain loop) and with three.
     */
    @Test
    void shardedExchangeGivesTheBitsOfThePlainLoopAndOfTheDriverExchange() {
        TrainerConfig driver = new TrainerConfig("gpt", 8, 3, 11, 1.0f, STEPS, TrainerConfig.ExchangeMode.DRIVER, 0);
        TrainerConfig sharded = new TrainerConfig("gpt", 8, 3, 11, 1.0f, STEPS, TrainerConfig.ExchangeMode.SHARDED, 2);
        assertEquals("sharded (2 shards)", new ShardedExchange(sc, java.util.List.of(adamw(tiny(0f))), new float[][] {init(tiny(0f))}, 2,
                StorageLevel.MEMORY_ONLY()).kind(), "the tiny model must make 2 shards for this test");
        float[] ref = reference(driver, 0f);
        float[] one = train(sharded, 0f, 1);
        assertArrayEquals(ref, one, SoftmaxRegression.diff(ref, one));
        float[] three = train(driver, 0f, 3);
        float[] threeSharded = train(sharded, 0f, 3);
        assertArrayEquals(three, threeSharded, SoftmaxRegression.diff(three, threeSharded));
    }
}
