package rlhf.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;

import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.BlockManager;
import org.apache.spark.storage.TaskResultBlockId;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import scala.jdk.javaapi.CollectionConverters;

class PartitionsTest {

    // local mode: the tasks run in this JVM, so the test can count their runs and order them
    private static final AtomicIntegerArray RUNS = new AtomicIntegerArray(3);
    private static final CountDownLatch LAST_PARTITION_RAN = new CountDownLatch(1);

    @Test
    @Timeout(120)
    void aResultLostBeforeTheDriverTookItIsComputedAgainAndFoldedInOrder() {
        SparkSession spark = TestSpark.local(3, "partitions-test");
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            JavaRDD<Integer> rdd = sc.parallelize(List.of(0, 1, 2), 3);
            List<Integer> folded = new ArrayList<>();
            Partitions.foldInOrder(sc, "lost results", rdd, (p, rows) -> {
                RUNS.incrementAndGet(p);
                if (p == 2) {
                    LAST_PARTITION_RAN.countDown();
                } else if (p == 0) {
                    // partition 2's result is stored before partition 0's is folded
                    try {
                        LAST_PARTITION_RAN.await(60, TimeUnit.SECONDS);
                        Thread.sleep(500);
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }
                return 10 * rows.next();
            }, (p, value) -> {
                folded.add(value);
                if (p == 0) {
                    // as if the executors holding the results not yet taken had died: partition 2's
                    // (only partitions 0 and 1 are fetched at this point) and maybe partition 1's
                    BlockManager bm = SparkEnv.get().blockManager();
                    for (BlockId id : resultBlocks()) {
                        bm.removeBlock(id, true);
                    }
                }
            });
            assertEquals(List.of(0, 10, 20), folded);
            assertEquals(1, RUNS.get(0));
            assertTrue(RUNS.get(1) == 1 || RUNS.get(1) == 2, "partition 1 ran " + RUNS.get(1) + " times");
            assertEquals(2, RUNS.get(2), "partition 2's lost result was computed again");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);   // removals are asynchronous
            while (!resultBlocks().isEmpty() && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertTrue(resultBlocks().isEmpty(), "every result block is removed once folded: " + resultBlocks());
        } finally {
            spark.stop();
        }
    }

    private static List<BlockId> resultBlocks() {
        return CollectionConverters.asJava(SparkEnv.get().blockManager().getMatchingBlockIds(
                (scala.Function1<BlockId, Object>) b -> b instanceof TaskResultBlockId));
    }
}
