package rlhf.spark;

import java.util.List;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * What a step costs besides the model: broadcast, task, gradient result, ordered sum, for a
 * P-parameter vector and a loss that does nothing. Opt-in:
 * {@code mvn -q -B -ntp -pl common test -Dtest=TrainerOverheadBench -Drlhf.bench=true -DP=10000000 -Dmaster=local}
 * (master: local or cluster; local-cluster executors have 768 MB, enough for about P = 15M).
 */
@EnabledIfSystemProperty(named = "rlhf.bench", matches = "true")
class TrainerOverheadBench {

    /** Adds each example's parameter to its gradient: negligible compute. */
    static final class Nop implements PartitionLoss<Integer, Object> {
        private static final long serialVersionUID = 1L;

        @Override
        public String stateKey() {
            return "bench-nop";
        }

        @Override
        public Object createState(int paramCount) {
            return new Object();
        }

        @Override
        public void accumulate(Object s, float[] p, List<Integer> ex, long[] seeds, float[] g, LossStats stats) {
            for (int e : ex) {
                g[e] += p[e];
                stats.addLoss(1, 1);
            }
        }
    }

    @Test
    void stepOverhead() {
        int n = Integer.getInteger("P", 10_000_000);
        boolean cluster = "cluster".equals(System.getProperty("master", "local"));
        SparkSession spark = cluster ? TestSpark.localCluster(2, "bench") : TestSpark.local(2, "bench");
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            IndexedData<Integer> d = IndexedData.cache(sc.parallelize(List.of(1, 2, 3, 4, 5, 6, 7, 8), 2),
                    StorageLevel.MEMORY_ONLY(), "bench");
            float[] p = new float[n];
            var t = new DataParallelTrainer<>(sc, new TrainerConfig("bench", 8, 4, 1, 0f, 10), new Nop(), p,
                    new NoUpdate(), d);
            long best = Long.MAX_VALUE;
            for (int i = 0; i < 8; i++) {
                long t0 = System.nanoTime();
                t.step();
                long ms = (System.nanoTime() - t0) / 1_000_000;
                best = i >= 2 ? Math.min(best, ms) : best;
                System.err.printf("%s P=%d step %d: %d ms%n", cluster ? "local-cluster[2,1,1024]" : "local[2]", n, i, ms);
            }
            System.err.printf("best of steps 2..7: %d ms%n", best);
        } finally {
            if (cluster) {
                TestSpark.stopCluster(spark);
            } else {
                spark.stop();
            }
        }
    }

    /** Leaves the parameters as they are: the bench times the exchange only. */
    static final class NoUpdate implements rlhf.optim.ElementwiseOptimizer {
        @Override
        public int stateSlots() {
            return 0;
        }

        @Override
        public void update(float[] params, float[] grads, float gradScale, float[][] state, int offset, int step,
                long updates) {
        }
    }
}
