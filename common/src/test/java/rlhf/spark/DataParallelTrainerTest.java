package rlhf.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import rlhf.optim.OptimizerState;
import rlhf.spark.SoftmaxRegression.Seq;

/** The trainer on local[2] against a plain loop, repeated runs, resume and non-finite losses. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DataParallelTrainerTest {

    /** 103 examples, batch 16 (6 steps per epoch, 7 left out), micro-batch 3, clipping on. */
    static final TrainerConfig CONFIG = new TrainerConfig("test", 16, 3, 42, 1.0f, 14);
    static final List<Seq> DATA = SoftmaxRegression.data(103, 1);

    private static SparkSession spark;
    private static JavaSparkContext sc;

    @BeforeAll
    static void start() {
        spark = TestSpark.local(2, "trainer-test");
        sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** Runs {@code steps} steps from the start. */
    static float[] train(JavaSparkContext sc, List<Seq> data, int partitions, int steps) {
        return train(sc, data, partitions, steps, CONFIG);
    }

    /** Runs {@code steps} steps from the start with the trainer settings {@code c}. */
    static float[] train(JavaSparkContext sc, List<Seq> data, int partitions, int steps, TrainerConfig c) {
        IndexedData<Seq> d = IndexedData.cache(sc.parallelize(data, partitions), StorageLevel.MEMORY_ONLY(), "toy");
        float[] p = SoftmaxRegression.initParams(7);
        var trainer = new DataParallelTrainer<>(sc, c, new SoftmaxRegression(), p,
                new SoftmaxRegression.Momentum(0.5f, 0.9f), d);
        try {
            for (int s = 0; s < steps; s++) {
                trainer.step();
            }
            return trainer.params();
        } finally {
            trainer.close();
            d.unpersist();
        }
    }

    /** {@link #CONFIG} with another exchange. */
    static TrainerConfig withExchange(TrainerConfig.ExchangeMode mode) {
        TrainerConfig c = CONFIG;
        return new TrainerConfig(c.name(), c.globalBatch(), c.microBatch(), c.seed(), c.maxGradNorm(), c.totalSteps(),
                mode, 0);
    }

    @Test
    void onePartitionMatchesPlainLoopExactlyAndTwoPartitionsWithin1e5() {
        float[] ref = SoftmaxRegression.referenceTrain(DATA, CONFIG, 14);
        float[] one = train(sc, DATA, 1, 14);
        float[] two = train(sc, DATA, 2, 14);
        assertArrayEquals(ref, one, SoftmaxRegression.diff(ref, one));
        assertArrayEquals(ref, two, 1e-5f, SoftmaxRegression.diff(ref, two));
    }

    @Test
    void partitionsHoldingNoneOfABatchAreSkipped() {
        // 12 partitions of 8-9 examples (parallelize slices [i*n/12, (i+1)*n/12)); some hold none of a step's 16.
        int parts = 12;
        int n = DATA.size();
        EpochPermutation perm = new EpochPermutation(n, CONFIG.seed(), 0);
        int empty = 0;
        for (int step = 0; step < 6; step++) {
            for (int i = 0; i < parts; i++) {
                boolean any = false;
                for (int j = i * n / parts; j < (i + 1) * n / parts; j++) {
                    any |= perm.position(j) / 16 == step;
                }
                empty += any ? 0 : 1;
            }
        }
        assertTrue(empty > 0, "this test needs a partition without examples in some step");
        float[] ref = SoftmaxRegression.referenceTrain(DATA, CONFIG, 6);
        float[] many = train(sc, DATA, parts, 6);
        assertArrayEquals(ref, many, 1e-5f, SoftmaxRegression.diff(ref, many));
    }

    @Test
    void repeatedRunsWithThreePartitionsAreBitIdentical() {
        float[] a = train(sc, DATA, 3, 8);
        float[] b = train(sc, DATA, 3, 8);
        assertArrayEquals(a, b, SoftmaxRegression.diff(a, b));
    }

    /**
     * The sharded exchange keeps the parameters on the executors: a step leaves the caller's array
     * as it was (the driver receives no parameters), and params() gathers the shards into it.
     */
    @Test
    void shardedExchangeLeavesTheCallersArrayUntilTheParametersArePulled() {
        float[] driver = train(sc, DATA, 2, 3, withExchange(TrainerConfig.ExchangeMode.DRIVER));
        IndexedData<Seq> d = IndexedData.cache(sc.parallelize(DATA, 2), StorageLevel.MEMORY_ONLY(), "toy");
        float[] p = SoftmaxRegression.initParams(7);
        float[] initial = p.clone();
        var trainer = new DataParallelTrainer<>(sc, withExchange(TrainerConfig.ExchangeMode.SHARDED),
                new SoftmaxRegression(), p, new SoftmaxRegression.Momentum(0.5f, 0.9f), d);
        try {
            for (int s = 0; s < 3; s++) {
                trainer.step();
            }
            assertArrayEquals(initial, p, "three steps did not touch the caller's array");
            assertSame(p, trainer.params());
            assertArrayEquals(driver, p, SoftmaxRegression.diff(driver, p));
        } finally {
            trainer.close();
            d.unpersist();
        }
    }

    @Test
    void shardedExchangeGivesTheDriverExchangesBits() {
        float[] driver = train(sc, DATA, 3, 8, withExchange(TrainerConfig.ExchangeMode.DRIVER));
        float[] sharded = train(sc, DATA, 3, 8, withExchange(TrainerConfig.ExchangeMode.SHARDED));
        assertArrayEquals(driver, sharded, SoftmaxRegression.diff(driver, sharded));
    }

    @Test
    void resumedRunEndsBitIdenticalToUninterrupted() {
        resumedRunEndsBitIdenticalToUninterrupted(TrainerConfig.ExchangeMode.DRIVER);
    }

    @Test
    void resumedRunWithTheShardedExchangeEndsBitIdenticalToUninterrupted() {
        resumedRunEndsBitIdenticalToUninterrupted(TrainerConfig.ExchangeMode.SHARDED);
    }

    private void resumedRunEndsBitIdenticalToUninterrupted(TrainerConfig.ExchangeMode mode) {
        TrainerConfig c = withExchange(mode);
        float[] full = train(sc, DATA, 2, 14, c);

        IndexedData<Seq> d = IndexedData.cache(sc.parallelize(DATA, 2), StorageLevel.MEMORY_ONLY(), "toy");
        float[] p = SoftmaxRegression.initParams(7);
        var first = new DataParallelTrainer<>(sc, c, new SoftmaxRegression(), p,
                new SoftmaxRegression.Momentum(0.5f, 0.9f), d);
        for (int s = 0; s < 8; s++) {
            first.step();
        }
        TrainerState saved = first.state();
        assertEquals(new TrainerState(8, 1, 32, 42), saved);
        float[] savedParams = first.params().clone();
        OptimizerState savedVelocity = first.optimizerState();
        assertEquals(8, savedVelocity.updates());
        first.close();

        // A new trainer, as after a restart: restored params, optimizer state and trainer state.
        float[] q = savedParams.clone();
        var second = new DataParallelTrainer<>(sc, c, new SoftmaxRegression(), q,
                new SoftmaxRegression.Momentum(0.5f, 0.9f), d);
        second.restoreOptimizer(savedVelocity);
        second.resumeFrom(TrainerState.fromJson(saved.toJson(), "trainer_state.json")); // as through a checkpoint
        StepResult r = null;
        for (int s = 8; s < 14; s++) {
            r = second.step();
        }
        second.close();
        d.unpersist();
        assertEquals(13, r.step());
        assertEquals(2, r.epoch());
        assertEquals(16, r.examples());
        assertArrayEquals(full, q, SoftmaxRegression.diff(full, q));
    }

    @Test
    void resumeFromAnotherSeedIsRefused() {
        IndexedData<Seq> d = IndexedData.cache(sc.parallelize(DATA, 2), StorageLevel.MEMORY_ONLY(), "toy");
        float[] p = SoftmaxRegression.initParams(7);
        var t = new DataParallelTrainer<>(sc, CONFIG, new SoftmaxRegression(), p,
                new SoftmaxRegression.Momentum(0.5f, 0.9f), d);
        var e = assertThrows(IllegalArgumentException.class, () -> t.resumeFrom(new TrainerState(3, 0, 48, 41)));
        assertTrue(e.getMessage().contains("seed 41"), e.getMessage());
        var f = assertThrows(IllegalArgumentException.class, () -> t.resumeFrom(new TrainerState(3, 0, 40, 42)));
        assertTrue(f.getMessage().contains("expected epoch 0 and position 48"), f.getMessage());
        d.unpersist();
    }

    @Test
    void stepResultAveragesLossAndStatsPerTokenAndStepJobIsDescribed() throws InterruptedException {
        IndexedData<Seq> d = IndexedData.cache(sc.parallelize(DATA, 2), StorageLevel.MEMORY_ONLY(), "toy");
        float[] p = SoftmaxRegression.initParams(7);
        var t = new DataParallelTrainer<>(sc, CONFIG, new SoftmaxRegression(), p,
                new SoftmaxRegression.Momentum(0.5f, 0.9f), d);
        List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        sc.sc().addSparkListener(new SparkListener() {
            @Override
            public void onJobStart(SparkListenerJobStart job) {
                seen.add(job.properties().getProperty("spark.jobGroup.id") + " | "
                        + job.properties().getProperty("spark.job.description"));
            }
        });
        StepResult r = t.step();
        d.unpersist();
        for (int i = 0; i < 100 && !seen.contains("test-step-1 | test step 1/14"); i++) {
            Thread.sleep(50); // listener events arrive asynchronously
        }
        assertTrue(seen.contains("test-step-1 | test step 1/14"), seen.toString());
        // Independent count: tokens of the examples at positions [0, 16) of epoch 0.
        EpochPermutation perm = new EpochPermutation(DATA.size(), CONFIG.seed(), 0);
        int tokens = 0;
        for (int i = 0; i < DATA.size(); i++) {
            if (perm.position(i) < 16) {
                tokens += DATA.get(i).length();
            }
        }
        assertEquals(16, r.examples());
        assertEquals(tokens, r.weight());
        // Near-zero weights: about ln(5) per token, accuracy in [0, 1].
        assertEquals(Math.log(5), r.loss(), 0.1);
        assertTrue(r.mean("correct") >= 0 && r.mean("correct") <= 1);

        // the exchange: both partitions hold examples of the batch, each sends one whole gradient
        ExchangeStats x = r.exchange();
        assertEquals(1, x.executors(), "local mode: the driver's own executor");
        assertEquals(2L * 4 * p.length, x.driverInBytes());
        assertEquals(x.driverInBytes(), x.executorOutBytes(), "one executor sent both");
        assertEquals(4L * p.length, x.executorInBytes());
        assertTrue(x.computeSeconds() > 0 && x.optimizerSeconds() > 0
                && x.computeSeconds() + x.optimizerSeconds() <= x.stepSeconds(), x.toString());
        assertEquals(x.stepSeconds() - x.computeSeconds() - x.optimizerSeconds(), x.exchangeSeconds(), 1e-9);
    }

    @Test
    void nonFiniteLossStopsAtItsStepWithoutUpdating() {
        List<Seq> poisoned = new ArrayList<>(DATA);
        int bad = 50;
        float[] x = poisoned.get(bad).x().clone();
        java.util.Arrays.fill(x, Float.POSITIVE_INFINITY);
        poisoned.set(bad, new Seq(x, poisoned.get(bad).y()));
        int badStep = (int) (new EpochPermutation(DATA.size(), CONFIG.seed(), 0).position(bad) / 16);
        assertTrue(badStep < 6, "example 50 must be in epoch 0's kept batches for this test");

        IndexedData<Seq> d = IndexedData.cache(sc.parallelize(poisoned, 2), StorageLevel.MEMORY_ONLY(), "toy");
        float[] p = SoftmaxRegression.initParams(7);
        var t = new DataParallelTrainer<>(sc, CONFIG, new SoftmaxRegression(), p,
                new SoftmaxRegression.Momentum(0.5f, 0.9f), d);
        for (int s = 0; s < badStep; s++) {
            t.step();
        }
        NonFiniteLossException e = assertThrows(NonFiniteLossException.class, t::step);
        d.unpersist();
        assertEquals(badStep, e.step());
        assertTrue(e.getMessage().startsWith("test step " + (badStep + 1) + "/14: non-finite"), e.getMessage());
        float[] ref = SoftmaxRegression.referenceTrain(poisoned, CONFIG, badStep);
        assertArrayEquals(ref, p, 1e-5f, "params must be those before the bad step: " + SoftmaxRegression.diff(ref, p));
        assertEquals(badStep, t.state().step());
    }

    @Test
    void partitionPassesReturnResultsInPartitionOrder() {
        JavaRDD<Integer> rdd = sc.parallelize(List.of(1, 2, 3, 4, 5, 6, 7), 4);
        Broadcast<Floats> bc = Floats.broadcast(sc, new float[] {10f});
        List<Float> sums = Partitions.runOnEach(sc, "test sums", rdd, bc, (i, params, rows) -> {
            float s = params[0] * 100 * i;
            while (rows.hasNext()) {
                s += rows.next();
            }
            return s;
        });
        // parallelize splits 7 rows over 4 partitions as [1], [2,3], [4,5], [6,7].
        assertEquals(List.of(1f, 1005f, 2009f, 3013f), sums);
        JavaRDD<Float> scaled = Partitions.mapCached(sc, "test scaled", rdd, bc, (i, params, rows) -> {
            List<Float> out = new ArrayList<>();
            rows.forEachRemaining(r -> out.add(r * params[0]));
            return out.iterator();
        }, StorageLevel.MEMORY_ONLY());
        assertTrue(scaled.getStorageLevel().useMemory());
        assertEquals(List.of(10f, 20f, 30f, 40f, 50f, 60f, 70f), scaled.collect());
        scaled.unpersist();
        bc.destroy();
    }
}
