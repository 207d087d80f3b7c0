package rlhf.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import rlhf.spark.SoftmaxRegression.Seq;
import rlhf.spark.SoftmaxRegression.Work;

/**
 * Real executor JVMs ({@code local-cluster[2,1,1024]}): training there with the sharded exchange
 * (the optimizer state on the executors, one replica) or the driver's (over direct connections,
 * the default transfer) ends bit-identical to local[2] (the driver's exchange in one JVM) with the
 * same two partitions, also when an executor JVM dies mid-training.
 */
class ClusterTrainingTest {

    static final int STEPS = 10;
    static final List<Seq> DATA = DataParallelTrainerTest.DATA;

    private static float[] localResult;
    private static SparkSession spark;
    private static JavaSparkContext sc;
    private static final AtomicInteger EXECUTORS_REMOVED = new AtomicInteger();

    // Timeouts only catch hangs (executors that cannot start); the machine may be loaded.
    @BeforeAll
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    static void start() throws InterruptedException {
        SparkSession local = TestSpark.local(2, "trainer-local-reference");
        try {
            localResult = train(JavaSparkContext.fromSparkContext(local.sparkContext()), new SoftmaxRegression(),
                    -1, null);
        } finally {
            local.stop();
        }
        spark = TestSpark.localCluster(2, "trainer-cluster-test");
        sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        sc.sc().addSparkListener(new SparkListener() {
            @Override
            public void onExecutorRemoved(SparkListenerExecutorRemoved removed) {
                EXECUTORS_REMOVED.incrementAndGet();
            }
        });
        awaitTwoExecutors();
    }

    /** The executor replacing one an earlier test killed may not be there yet. */
    @BeforeEach
    void bothExecutorsUp() throws InterruptedException {
        awaitTwoExecutors();
    }

    /** Executors register asynchronously. */
    static void awaitTwoExecutors() throws InterruptedException {
        // the driver's block manager counts as one
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (sc.sc().getExecutorMemoryStatus().size() < 3 && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        assertEquals(3, sc.sc().getExecutorMemoryStatus().size(),
                "2 executors did not register within 60 s (see executor logs under work/)");
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            TestSpark.stopCluster(spark);
        }
    }

    /**
     * Trains STEPS steps on 2 partitions; before step {@code markAt} creates {@code marker}, which
     * makes the next task of partition 1 kill its executor JVM (first attempt only).
     */
    static float[] train(JavaSparkContext sc, PartitionLoss<Seq, Work> loss, int markAt, Path marker) {
        return train(sc, TrainerConfig.ExchangeMode.SHARDED, loss, markAt, marker, new java.util.ArrayList<>());
    }

    /** {@link #train} through {@code exchange}, collecting each step's exchange statistics in {@code exchanges}. */
    static float[] train(JavaSparkContext sc, TrainerConfig.ExchangeMode exchange, PartitionLoss<Seq, Work> loss,
            int markAt, Path marker, List<ExchangeStats> exchanges) {
        IndexedData<Seq> d = IndexedData.cache(sc.parallelize(DATA, 2), StorageLevel.MEMORY_ONLY(), "toy");
        try {
            float[] p = SoftmaxRegression.initParams(7);
            var trainer = new DataParallelTrainer<>(sc, DataParallelTrainerTest.withExchange(exchange), loss, p,
                    new SoftmaxRegression.Momentum(0.5f, 0.9f), d);
            for (int s = 0; s < STEPS; s++) {
                if (s == markAt) {
                    try {
                        Files.createFile(marker);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
                exchanges.add(trainer.step().exchange());
            }
            return trainer.params();
        } finally {
            d.unpersist();
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void clusterRunEqualsLocalRunBitForBit() {
        List<ExchangeStats> exchanges = new java.util.ArrayList<>();
        float[] p = train(sc, TrainerConfig.ExchangeMode.SHARDED, new SoftmaxRegression(), -1, null, exchanges);
        assertArrayEquals(localResult, p, SoftmaxRegression.diff(localResult, p));
        // The sharded exchange: the driver received neither gradients nor parameters (the
        // executors keep the parameter shards and gather them from each other), and the executors
        // sent both partitions' gradients into the shuffle (normally one each: the cached
        // partitions stay where they were computed).
        for (ExchangeStats x : exchanges) {
            assertEquals(0, x.driverInBytes(), x.toString());
            assertTrue(x.executorOutBytes() >= 4L * p.length, x.toString());
        }
        assertTrue(exchanges.stream().anyMatch(x -> x.executors() == 2), exchanges.toString());
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void driverExchangeOverDirectConnectionsEqualsLocalRunBitForBit() {
        assertTrue(DirectTransfer.enabled(sc.getConf()), "the direct transfer is the default on a cluster");
        List<ExchangeStats> exchanges = new java.util.ArrayList<>();
        float[] p = train(sc, TrainerConfig.ExchangeMode.DRIVER, new SoftmaxRegression(), -1, null, exchanges);
        assertArrayEquals(localResult, p, SoftmaxRegression.diff(localResult, p));
        // every step, one whole gradient per partition reached the driver
        for (ExchangeStats x : exchanges) {
            assertEquals(2L * 4 * p.length, x.driverInBytes(), x.toString());
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void driverExchangeWithAnExecutorKilledMidTrainingEndsBitIdentical(@TempDir Path dir) throws InterruptedException {
        Path marker = dir.resolve("kill-next-attempt-0");
        int removedBefore = EXECUTORS_REMOVED.get();
        float[] p = train(sc, TrainerConfig.ExchangeMode.DRIVER, new HaltingLoss(marker.toString()), 4, marker,
                new java.util.ArrayList<>());
        assertFalse(Files.exists(marker), "no task consumed the kill marker");
        for (int i = 0; i < 100 && EXECUTORS_REMOVED.get() == removedBefore; i++) {
            Thread.sleep(100); // listener events arrive asynchronously
        }
        assertTrue(EXECUTORS_REMOVED.get() > removedBefore, "the driver saw no executor removed");
        assertArrayEquals(localResult, p, SoftmaxRegression.diff(localResult, p));
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void executorKilledMidTrainingIsRetriedAndEndsBitIdentical(@TempDir Path dir) throws InterruptedException {
        Path marker = dir.resolve("kill-next-attempt-0");
        int removedBefore = EXECUTORS_REMOVED.get();
        float[] p = train(sc, new HaltingLoss(marker.toString()), 4, marker);
        assertFalse(Files.exists(marker), "no task consumed the kill marker");
        for (int i = 0; i < 100 && EXECUTORS_REMOVED.get() == removedBefore; i++) {
            Thread.sleep(100); // listener events arrive asynchronously
        }
        assertTrue(EXECUTORS_REMOVED.get() > removedBefore, "the driver saw no executor removed");
        assertArrayEquals(localResult, p, SoftmaxRegression.diff(localResult, p));
    }

    /** The toy loss, whose partition-1 task halts its JVM when the marker file exists (attempt 0 only). */
    static final class HaltingLoss extends SoftmaxRegressionLossDelegate {
        private static final long serialVersionUID = 1L;
        private final String marker;

        HaltingLoss(String marker) {
            this.marker = marker;
        }

        @Override
        public void accumulate(Work w, float[] p, List<Seq> examples, long[] seeds, float[] g, LossStats stats) {
            TaskContext ctx = TaskContext.get();
            if (ctx != null && ctx.attemptNumber() == 0 && ctx.partitionId() == 1) {
                try {
                    if (Files.deleteIfExists(Path.of(marker))) {
                        Runtime.getRuntime().halt(1);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            super.accumulate(w, p, examples, seeds, g, stats);
        }
    }

    /** Forwards to {@link SoftmaxRegression} (which is final). */
    static class SoftmaxRegressionLossDelegate implements PartitionLoss<Seq, Work> {
        private static final long serialVersionUID = 1L;
        private final SoftmaxRegression inner = new SoftmaxRegression();

        @Override
        public String stateKey() {
            return inner.stateKey();
        }

        @Override
        public Work createState(int paramCount) {
            return inner.createState(paramCount);
        }

        @Override
        public String[] statNames() {
            return inner.statNames();
        }

        @Override
        public void accumulate(Work w, float[] p, List<Seq> examples, long[] seeds, float[] g, LossStats stats) {
            inner.accumulate(w, p, examples, seeds, g, stats);
        }
    }
}
