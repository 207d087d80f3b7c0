package rlhf.spark;

import java.io.Serializable;
import java.util.List;
import java.util.UUID;

import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.storage.TempLocalBlockId;

import scala.reflect.ClassTag$;

/**
 * A model's parameters as the tasks of a training step read them: the driver's array
 * ({@link DriverExchange}: fetched directly by each executor, or broadcast), or the shards the executors keep after the optimizer ran there
 * ({@link ShardedExchange}), gathered once per executor and step. The exchange makes them
 * ({@link Exchange#params}); the step's code reads {@link #value()} in its tasks and calls
 * {@link #release()} on the driver when the step is over.
 */
public interface Params extends Serializable {

    /** The parameters, in a task (or on the driver in local mode). Read only. */
    float[] value();

    /** Frees what the driver made for this step (a broadcast); shards kept by the exchange stay. */
    void release();

    /**
     * {@code values} for the tasks of a job: {@link #local} in local mode, a {@link #broadcast}
     * otherwise. Not copied: unchanged until released.
     */
    static Params of(JavaSparkContext sc, float[] values) {
        return sc.isLocal() ? local(sc, values) : broadcast(sc, values);
    }

    /** A broadcast of {@code values} (not copied: unchanged until released). */
    static Params broadcast(JavaSparkContext sc, float[] values) {
        return new Broadcasted(Floats.broadcast(sc, values));
    }

    /**
     * In local mode, the array itself, handed to the tasks through the block manager that the
     * driver and the tasks share there: no copy at all, where a broadcast first serializes the
     * array into pieces (about 35 ms for 92 MB per step). Falls back to a broadcast if the memory
     * store refuses the block. Local mode only: a task in another JVM would not find it.
     */
    static Params local(JavaSparkContext sc, float[] values) {
        BlockId block = new TempLocalBlockId(UUID.randomUUID());
        if (SparkEnv.get().blockManager().putSingle(block, new Floats(values), StorageLevel.MEMORY_ONLY(), false,
                ClassTag$.MODULE$.apply(Floats.class))) {
            return new Local(block);
        }
        return broadcast(sc, values);
    }

    /**
     * Version {@code version} of model {@code model}'s parameters of exchange {@code exchange},
     * offered by the driver for the executors to fetch directly ({@link DirectTransfer}), each into
     * the copy of an older version it keeps. Not copied: unchanged until released.
     */
    static Params direct(String exchange, int model, long version, float[] values) {
        return new Direct(exchange, model, version, values.length,
                DirectTransfer.server().offer(new float[][] {values}, false, null));
    }

    /** Each model's parameters (null for null: a model the step does not train), in a task. */
    static float[][] values(List<Params> params) {
        float[][] v = new float[params.size()][];
        for (int m = 0; m < v.length; m++) {
            v[m] = params.get(m) == null ? null : params.get(m).value();
        }
        return v;
    }

    /** Parameters in the block manager of a local-mode driver ({@link #local}). */
    record Local(BlockId block) implements Params {
        @Override
        public float[] value() {
            Floats values = Partitions.singleValue(SparkEnv.get().blockManager().getLocalValues(block));
            if (values == null) {
                throw new IllegalStateException("parameters " + block + " are not in this JVM's block manager: "
                        + "Params.local is for local mode, where the tasks run in the driver's JVM");
            }
            return values.values();
        }

        @Override
        public void release() {
            SparkEnv.get().blockManager().removeBlock(block, false);
        }
    }

    /** Parameters the driver offers for a direct fetch ({@link #direct}). */
    record Direct(String exchange, int model, long version, int length, DirectTransfer.Address at) implements Params {
        @Override
        public float[] value() {
            return DirectTransfer.params(exchange, model, version, length, at);
        }

        @Override
        public void release() {
            DirectTransfer.server().withdraw(at);
        }
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
