package rlhf.spark;

import java.io.Serializable;
import java.util.List;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * A model's parameters as the tasks of a training step read them: a broadcast of the driver's
 * array ({@link DriverExchange}), or the shards the executors keep after the optimizer ran there
 * ({@link ShardedExchange}), gathered once per executor and step. The exchange makes them
 * ({@link Exchange#params}); the step's code reads {@link #value()} in its tasks and calls
 * {@link #release()} on the driver when the step is over.
 */
public interface Params extends Serializable {

    /** The parameters, in a task (or on the driver in local mode). Read only. */
    float[] value();

    /** Frees what the driver made for this step (a broadcast); shards kept by the exchange stay. */
    void release();

    /** A broadcast of {@code values} (not copied: unchanged until released). */
    static Params broadcast(JavaSparkContext sc, float[] values) {
        return new Broadcasted(Floats.broadcast(sc, values));
    }

    /** Each model's parameters (null for null: a model the step does not train), in a task. */
    static float[][] values(List<Params> params) {
        float[][] v = new float[params.size()][];
        for (int m = 0; m < v.length; m++) {
            v[m] = params.get(m) == null ? null : params.get(m).value();
        }
        return v;
    }

    /** Parameters broadcast from the driver. */
    record Broadcasted(Broadcast<Floats> broadcast) implements Params {
        @Override
        public float[] value() {
            return broadcast.value().values();
        }

        @Override
        public void release() {
            broadcast.destroy();
        }
    }
}
