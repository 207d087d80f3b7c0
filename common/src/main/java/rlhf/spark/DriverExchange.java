package rlhf.spark;

import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.apache.spark.api.java.JavaSparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.optim.ElementwiseOptimizer;
import rlhf.optim.GradClip;
import rlhf.optim.OptimizerState;

/**
 * The exchange through the driver: every partition sends its whole gradients back, the driver sums
 * them in partition order as they arrive ({@link Partitions#foldInOrder}), combines the sources,
 * clips and runs the optimizers, whose state it holds. The driver needs 16 bytes per parameter
 * (parameters, sum, two moments; 4 more per parameter of a model that takes a second source) and
 * receives 4 bytes per parameter per partition: the fastest way in one process (local mode),
 * where a "send" is a reference handed over.
 */
final class DriverExchange implements Exchange {

    private static final Logger LOG = LoggerFactory.getLogger(DriverExchange.class);

    private final JavaSparkContext sc;
    private final List<ElementwiseOptimizer> optimizers;
    private final int[] sizes;
    /** The caller's arrays, updated in place. */
    private final float[][] params;
    /** own[s][m]: the driver's array for source s's gradient sum of model m, allocated on first use. */
    private final List<float[][]> own = new ArrayList<>();
    /**
     * sums[s][m]: where the step's sum of source s for model m lives, and sums[0][m] becomes model m's
     * update: an {@link #own} array, or in local mode the first partition's gradient buffer itself.
     */
    private float[][][] sums;
    /** Local mode: the partition results whose buffers hold sums, given back after the update. */
    private final List<PartitionResult> held = new ArrayList<>();
    private final OptimizerState[] states;
    /** On a cluster: whether the arrays move over direct connections ({@link DirectTransfer}). */
    private final boolean direct;
    /** Names this exchange's parameter streams on the executors. */
    private final String id = UUID.randomUUID().toString();
    /** versions[m]: model m's updates so far; names its parameters' content for the executors' copies. */
    private final long[] versions;

    DriverExchange(JavaSparkContext sc, List<ElementwiseOptimizer> optimizers, float[][] params) {
        this.sc = sc;
        this.optimizers = List.copyOf(optimizers);
        this.params = params.clone();
        this.sizes = new int[params.length];
        for (int m = 0; m < params.length; m++) {
            sizes[m] = params[m].length;
        }
        this.direct = DirectTransfer.enabled(sc.getConf()) && !sc.isLocal();   // checks the setting in local mode too
        this.versions = new long[sizes.length];
        this.states = new OptimizerState[sizes.length];
        for (int m = 0; m < sizes.length; m++) {
            states[m] = OptimizerState.zeros(optimizers.get(m).stateSlots(), sizes[m]);
        }
    }

    @Override
    public String kind() {
        return "driver";
    }

    /**
     * The caller's array: in local mode itself; on a cluster offered for the executors to fetch
     * directly, or a broadcast of it ({@code spark.rlhf.transfer=spark}).
     */
    @Override
    public Params params(int model) {
        return direct ? Params.direct(id, model, versions[model], params[model]) : Params.of(sc, params[model]);
    }

    /** The caller's array is the parameters: nothing to bring. */
    @Override
    public void pull(int model) {
    }

    @Override
    public Reduced reduce(String what, List<Source<?>> sources, List<Params> params, Combine combine) {
        int models = sizes.length;
        LossStats[] totals = new LossStats[sources.size()];
        int[] examples = new int[sources.size()];
        long[] computeNanos = new long[1];
        long[] driverIn = new long[1];
        Map<String, Long> sentBy = new HashMap<>();
        // arrived[s][m]: some partition of source s sent a gradient of model m (the first one becomes the
        // sum, the rest are added to it)
        boolean[][] arrived = new boolean[sources.size()][models];
        releaseHeld();
        sums = new float[sources.size()][models][];
        for (int s = 0; s < sources.size(); s++) {
            float[][] sum = sums[s];
            boolean[] got = arrived[s];
            int src = s;
            foldSource(what + (sources.size() > 1 ? " (source " + (s + 1) + ")" : ""), sources.get(s), params,
                    (i, r) -> {
                        if (totals[src] == null) {
                            totals[src] = new LossStats(r.stats.extraCount());
                        }
                        totals[src].addAll(r.stats);
                        examples[src] += r.examples;
                        computeNanos[0] = Math.max(computeNanos[0], r.computeNanos);
                        long bytes = 0;
                        boolean hold = false;
                        for (int m = 0; m < models; m++) {
                            if (r.grads[m] != null) {
                                float[] g = r.grads[m].values();
                                if (got[m]) {
                                    Gradients.add(sum[m], g, what);
                                } else if (r.holdsBuffers()) {
                                    // the task's own buffer (local mode) or the one it was read into
                                    // (direct transfer) becomes the sum: no copy
                                    Gradients.requireSize(sizes[m], g.length, what);
                                    sum[m] = g;
                                    hold = true;
                                } else {
                                    sum[m] = ownSum(src, m);
                                    Gradients.set(sum[m], g, what);
                                }
                                got[m] = true;
                                bytes += 4L * g.length;
                            }
                        }
                        if (hold) {
                            held.add(r);
                        } else {
                            r.releaseBuffers();
                        }
                        driverIn[0] += bytes;
                        sentBy.merge(r.executor, bytes, Long::sum);
                    });
        }
        double[][] factors = combine.factors(totals);
        double[] norms = new double[models];
        for (int m = 0; m < models; m++) {
            norms[m] = Double.NaN;
            if (params.get(m) != null && finite(factors[m])) {
                float[][] perSource = new float[sources.size()][];
                for (int s = 0; s < perSource.length; s++) {
                    perSource[s] = arrived[s][m] ? sums[s][m] : null;
                }
                if (sums[0][m] == null) {
                    sums[0][m] = ownSum(0, m);   // the update's array when source 0 sent nothing for m
                }
                double[] blockSums = new double[GradClip.blocks(sizes[m])];
                Gradients.combine(sums[0][m], perSource, factors[m], blockSums);
                norms[m] = Math.sqrt(GradClip.sumInOrder(blockSums));
            }
        }
        return new Reduced(totals, examples, norms, computeNanos[0], driverIn[0], sentBy, Map.of());
    }

    private <T> void foldSource(String what, Source<T> source, List<Params> params,
            Partitions.Fold<PartitionResult> fold) {
        SourceTask<T> task = source.task();
        List<Params> ps = new ArrayList<>(params);
        Partitions.foldInOrder(sc, what, source.data(),
                (p, rows) -> PartitionResult.of(task.run(p, rows, Params.values(ps))), fold);
    }

    static boolean finite(double[] factors) {
        for (double f : factors) {
            if (!Double.isFinite(f)) {
                return false;
            }
        }
        return true;
    }

    /** own[s][m], allocated on first use (a model's second source costs its memory only then). */
    private float[] ownSum(int s, int m) {
        while (own.size() <= s) {
            own.add(new float[sizes.length][]);
        }
        float[][] a = own.get(s);
        if (a[m] == null) {
            a[m] = new float[sizes[m]];
        }
        return a[m];
    }

    /** Gives the task buffers that held the last step's sums back to their pool (local mode). */
    private void releaseHeld() {
        for (PartitionResult r : held) {
            r.releaseBuffers();
        }
        held.clear();
    }

    @Override
    public Update update(String what, float[] clip, int step) {
        long t0 = System.nanoTime();
        for (int m = 0; m < sizes.length; m++) {
            if (Float.isNaN(clip[m])) {
                continue;
            }
            float[] g = sums[0][m];
            OptimizerState st = states[m];
            optimizers.get(m).update(params[m], g, clip[m], st.slots(), 0, step, st.updates());
            versions[m]++;
            states[m] = new OptimizerState(st.slots(), st.updates() + 1);
        }
        releaseHeld();
        return new Update((System.nanoTime() - t0) / 1e9, 0, Map.of(), true);
    }

    @Override
    public void discard() {
        releaseHeld();
    }

    @Override
    public OptimizerState state(int model) {
        return states[model];
    }

    @Override
    public void restore(int model, OptimizerState s) {
        s.requireShape(optimizers.get(model).stateSlots(), sizes[model]);
        float[][] slots = new float[s.slots().length][];
        for (int k = 0; k < slots.length; k++) {
            slots[k] = s.slots()[k].clone();
        }
        states[model] = new OptimizerState(slots, s.updates());
    }

    @Override
    public void close() {
        releaseHeld();
        for (int size : sizes) {
            PartitionResult.dropReceiveBuffers(size);   // the next stage need not keep them on the driver
        }
    }

    /**
     * What a partition sends back: a gradient per model, null where it has none. On an executor, a
     * copy of the task's buffers, which go back to the per-JVM pool at once (the stored result
     * waits for the driver, and is serialized when it takes it). In local mode the driver takes
     * this very object: it holds the task's buffers themselves. The driver adds them to the sum, or
     * makes the first partition's buffers the sum, and gives them back to the pool once it no
     * longer needs them ({@link #releaseBuffers}): after the update for the first partition.
     */
    static final class PartitionResult implements Serializable, Partitions.Remote {
        private static final long serialVersionUID = 1L;
        final int examples;
        /** The gradients; on the driver, null until {@link #fetch} when they stayed on the executor. */
        Floats[] grads;
        final LossStats stats;
        final String executor;
        final long computeNanos;
        /** Where the executor offers the gradients ({@link DirectTransfer}); null when they travel in here. */
        private final DirectTransfer.Address offered;
        /** Gives the buffers holding {@link #grads} back to their pool; on the driver only (not serialized). */
        private transient Runnable buffers;

        private PartitionResult(int examples, Floats[] grads, LossStats stats, long computeNanos,
                DirectTransfer.Address offered) {
            this.examples = examples;
            this.grads = grads;
            this.stats = stats;
            this.executor = Partitions.executorId();
            this.computeNanos = computeNanos;
            this.offered = offered;
        }

        static PartitionResult of(Partial p) {
            if ("driver".equals(Partitions.executorId())) {
                PartitionResult r = new PartitionResult(p.examples, wrap(p.grads), p.stats, p.computeNanos, null);
                r.buffers = p::release;
                return r;
            }
            if (DirectTransfer.enabled()) {
                // the task's buffers themselves, until the driver has read them
                DirectTransfer.Address at = DirectTransfer.server().offer(p.grads, true, p::release);
                return new PartitionResult(p.examples, null, p.stats, p.computeNanos, at);
            }
            float[][] copies = new float[p.grads.length][];
            for (int m = 0; m < copies.length; m++) {
                copies[m] = p.grads[m] == null ? null : p.grads[m].clone();
            }
            p.release();
            return new PartitionResult(p.examples, wrap(copies), p.stats, p.computeNanos, null);
        }

        private static Floats[] wrap(float[][] arrays) {
            Floats[] g = new Floats[arrays.length];
            for (int m = 0; m < g.length; m++) {
                g[m] = arrays[m] == null ? null : new Floats(arrays[m]);
            }
            return g;
        }

        /**
         * On the driver: reads the gradients the executor offers into buffers of the driver's pool,
         * which {@link #releaseBuffers} gives back. False if they are gone with their executor.
         */
        @Override
        public boolean fetch(String description) {
            if (offered == null) {
                return true;
            }
            List<float[]> borrowed = new ArrayList<>();
            float[][] got = null;
            try {
                got = DirectTransfer.take(offered, n -> {
                    float[] a = ExecutorStates.borrow(new Received(n), () -> new float[n]);
                    borrowed.add(a);
                    return a;
                }, description + ": the gradients of executor " + executor);
            } catch (IOException e) {
                LOG.warn("{}: {}", description, e.getMessage());
            }
            Runnable giveBack = () -> borrowed.forEach(a -> ExecutorStates.release(new Received(a.length), a));
            if (got == null) {
                giveBack.run();
                return false;
            }
            grads = wrap(got);
            buffers = giveBack;
            return true;
        }

        /** A driver buffer that receives a gradient of {@code length} floats from an executor. */
        private record Received(int length) {
        }

        /** Frees the driver's pooled receive buffers of {@code length} floats. */
        static void dropReceiveBuffers(int length) {
            ExecutorStates.clear(new Received(length));
        }

        /** The gradients are in buffers the driver gives back: it may keep them as its sums until then. */
        boolean holdsBuffers() {
            return buffers != null;
        }

        /** After the driver used the gradients: their buffers go back to their pool. */
        void releaseBuffers() {
            if (buffers != null) {
                buffers.run();
                buffers = null;
            }
        }
    }
}
