package rlhf.ppo;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

import rlhf.config.JobConfig;
import rlhf.spark.Floats;

/** The package-private phases of a PPO run, for the benchmark in rlhf.bench. */
public final class PpoBenchAccess implements AutoCloseable {

    private final PpoJob.Setup setup;

    private PpoBenchAccess(PpoJob.Setup setup) {
        this.setup = setup;
    }

    public static PpoBenchAccess setup(SparkSession spark, JobConfig cfg, Algorithm method) throws IOException {
        return new PpoBenchAccess(PpoJob.setup(spark, cfg, method, null));
    }

    public PpoSettings settings() {
        return setup.s;
    }

    public float[] policy() {
        return setup.trainer.policy;
    }

    public List<Rollout> rolloutsInProcess(int iteration, float[] params) {
        return setup.trainer.rolloutsInProcess(iteration, params);
    }

    public JavaRDD<Rollout> rollouts(int iteration, Broadcast<Floats> params) {
        return setup.trainer.rollouts(iteration, params);
    }

    public Map<String, Double> iterate(int iteration) {
        return setup.trainer.iterate(iteration, 0).metrics();
    }

    @Override
    public void close() {
        setup.close();
    }
}
