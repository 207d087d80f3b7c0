package rlhf.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

import org.apache.spark.Partitioner;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.TaskCompletionListener;

import rlhf.optim.ElementwiseOptimizer;
import rlhf.optim.GradClip;
import rlhf.optim.OptimizerState;
import scala.Tuple2;

/**
 * The exchange without a driver bottleneck (ZeRO-1 style): gradients are reduce-scattered through
 * Spark's shuffle and the optimizers run shard by shard on the executors, which keep their state.
 *
 * <pre>
 * step s, parameters broadcast as before
 *   job 1  map:    each source's partition: its gradients, cut at the shard bounds of every model
 *                  -> one piece per shard (R in all), shuffled by shard; pulled one at a time
 *          reduce: shard r of model m = for each source, 0 + piece(partition 0) + piece(partition 1)
 *                  + ... (partition order), then the sources added in order, each scaled by its
 *                  factor (every piece carries its partition's loss sums, so each reducer derives
 *                  the same factors); kept (MEMORY_AND_DISK); its per-block sums of squares to
 *                  the driver
 *   driver: each model's norm = sqrt(its block sums in order), the clip factors, the checks
 *   job 2  shard r: optimizer on (broadcast params[r], clipped gradient r, state r) -> new params r
 *                  (sent to the driver) and new state r
 *   job 3  the new state kept with one replica on another executor (StorageLevel ..._2) and its
 *          lineage cut (local checkpoint); the previous state, the gradient shards and the
 *          shuffle files go
 * </pre>
 *
 * <p>Per step the driver receives the parameters once (4 bytes per parameter, whatever the
 * number of partitions) and holds them (4 bytes per parameter; the gradient sums and the
 * optimizer state live on the executors). Each executor sends its partitions' gradients into the
 * shuffle and receives, for its shards, one piece per partition: per-node traffic stays about
 * constant as executors are added, as in a ring reduce-scatter.
 *
 * <p>Determinism: shard bounds are multiples of {@link GradClip#NORM_BLOCK}; sums run in partition
 * order from zero, sources are added in order, the optimizer is elementwise: the bits are those
 * of {@link DriverExchange} for any number of shards. Retried tasks recompute the same pieces; a
 * lost executor's map outputs and gradient shards are recomputed from their lineage (the step's
 * broadcasts are alive until the step ends), and its optimizer shards are read from their
 * replicas. Losing a shard and its replica at once (both executors) fails the step with a
 * message: resume from the last checkpoint.
 */
final class ShardedExchange implements Exchange {

    /** Gradient shards of about this size (and at least one per task slot). */
    static final long SHARD_BYTES = 128L << 20;

    private final JavaSparkContext sc;
    private final List<ElementwiseOptimizer> optimizers;
    private final int[] sizes;
    private final Shards shards;
    private final StorageLevel stateLevel;
    /** The optimizers' shards (R partitions, shard r = partition r), or null before the first step. */
    private JavaRDD<StateShard> state;
    /** Set by {@link #restore}, made into {@link #state} at the first step. */
    private final OptimizerState[] restored;
    /**
     * The broadcasts a restored state was made from: alive until that state is replaced, since
     * Spark ships the closure that read them with every task over the state, checkpointed or not.
     */
    private final List<Broadcast<Floats>> stateSources = new ArrayList<>();
    private final long[] updates;
    private JavaRDD<Summed> summed;

    /**
     * @param shardsPerModel shards of each model; 0: one per {@link #SHARD_BYTES}, at least one per task slot
     * @param stateLevel     where the optimizer state lives; {@code MEMORY_AND_DISK_2} keeps a replica
     */
    ShardedExchange(JavaSparkContext sc, List<ElementwiseOptimizer> optimizers, int[] sizes, int shardsPerModel,
            StorageLevel stateLevel) {
        this.sc = sc;
        this.optimizers = List.copyOf(optimizers);
        this.sizes = sizes.clone();
        int taskSlots = Math.max(1, sc.defaultParallelism() / Math.max(1, sc.getConf().getInt("spark.task.cpus", 1)));
        this.shards = Shards.of(sizes, shardsPerModel, taskSlots);
        this.stateLevel = stateLevel;
        this.restored = new OptimizerState[sizes.length];
        this.updates = new long[sizes.length];
    }

    /** Bounds of at most {@code shards} shards of {@code n} parameters, cut at multiples of the norm block. */
    static int[] bounds(int n, int shards) {
        int blocks = GradClip.blocks(n);
        int s = Math.max(1, Math.min(shards, blocks));
        int[] b = new int[s + 1];
        for (int k = 0; k <= s; k++) {
            b[k] = (int) Math.min(n, (long) blocks * k / s * GradClip.NORM_BLOCK);
        }
        return b;
    }

    @Override
    public String kind() {
        return "sharded (" + shards.count() + " shards)";
    }

    @Override
    public Reduced reduce(String what, List<Source<?>> sources, List<Broadcast<Floats>> params, Combine combine) {
        Shards sh = shards;
        int[] partitions = new int[sources.size()];
        List<JavaRDD<Tuple2<Integer, Piece>>> pieces = new ArrayList<>();
        for (int s = 0; s < sources.size(); s++) {
            partitions[s] = sources.get(s).data().getNumPartitions();
            pieces.add(pieces(sources.get(s), s, params, sh));
        }
        JavaRDD<Tuple2<Integer, Piece>> all = pieces.get(0);
        for (int s = 1; s < pieces.size(); s++) {
            all = all.union(pieces.get(s));
        }
        JavaPairRDD<Integer, Piece> shuffled = JavaPairRDD.fromJavaRDD(all).partitionBy(new ByShard(sh.count()));
        summed = shuffled.mapPartitionsWithIndex(
                (r, it) -> List.of(Summed.fold(r, sh, partitions, combine, it)).iterator(), true);
        summed.setName(what + ": gradient shards").persist(StorageLevel.MEMORY_AND_DISK());
        sc.setJobDescription(what + ": gradients reduce-scattered");
        List<Summary> results;
        try {
            results = summed.map(x -> x.summary).collect();
        } finally {
            sc.setJobDescription(null);
        }
        Summary first = results.get(0);
        int models = sizes.length;
        double[] sq = new double[models];
        boolean[] scaled = new boolean[models];
        long computeNanos = 0;
        Map<String, Long> out = new HashMap<>();
        Map<String, Long> in = new HashMap<>();
        for (int r = 0; r < results.size(); r++) {
            Summary s = results.get(r);
            if (!Arrays.equals(s.examples, first.examples)) {
                throw new IllegalStateException(what + ": gradient shards summed different batches ("
                        + Arrays.toString(s.examples) + " vs " + Arrays.toString(first.examples) + " examples)");
            }
            computeNanos = Math.max(computeNanos, s.computeNanos);
            for (double b : s.blockSums) {     // every block of the model in order, as the driver adds them
                sq[sh.model[r]] += b;
            }
            scaled[sh.model[r]] = s.combined;
            s.sentBy.forEach((e, n) -> out.merge(e, n, Long::sum));
            in.merge(s.executor, s.receivedBytes, Long::sum);
        }
        double[] norms = new double[models];
        for (int m = 0; m < models; m++) {
            norms[m] = params.get(m) != null && scaled[m] ? Math.sqrt(sq[m]) : Double.NaN;
        }
        return new Reduced(first.totals, first.examples, norms, computeNanos, 0, out, in);
    }

    /** Source s's pieces: every partition's gradients cut at every shard's bounds, pulled lazily. */
    private static <T> JavaRDD<Tuple2<Integer, Piece>> pieces(Source<T> source, int s, List<Broadcast<Floats>> params,
            Shards sh) {
        SourceTask<T> task = source.task();
        List<Broadcast<Floats>> bcs = new ArrayList<>(params);
        return source.data().mapPartitionsWithIndex((p, rows) -> {
            Partial partial = task.run(p, rows, DriverExchange.values(bcs));
            TaskContext ctx = TaskContext.get();
            if (ctx != null) {
                ctx.addTaskCompletionListener((TaskCompletionListener) c -> partial.release());
            }
            return new Iterator<Tuple2<Integer, Piece>>() {
                private int r;

                @Override
                public boolean hasNext() {
                    if (r < sh.count()) {
                        return true;
                    }
                    partial.release();
                    return false;
                }

                @Override
                public Tuple2<Integer, Piece> next() {
                    if (!hasNext()) {
                        throw new NoSuchElementException();
                    }
                    float[] g = partial.grads[sh.model[r]];
                    byte[] bytes = g == null ? null : Gradients.encode(g, sh.from[r], sh.to[r]);
                    return new Tuple2<>(r++, new Piece(s, p, partial.examples, bytes, partial.stats,
                            partial.computeNanos));
                }
            };
        }, true);
    }

    @Override
    public Update update(String what, float[] clip, int step, List<Broadcast<Floats>> paramBroadcasts,
            float[][] driverParams) {
        JavaRDD<StateShard> previous = stateFor();
        Shards sh = shards;
        List<ElementwiseOptimizer> opts = optimizers;
        long[] done = updates.clone();
        List<Broadcast<Floats>> bcs = new ArrayList<>(paramBroadcasts);
        float[] clips = clip.clone();
        JavaRDD<Updated> updated = previous.zipPartitions(summed, (st, g) -> List.of(
                Updated.run(opts, sh, st.next(), g.next(), bcs, clips, step, done)).iterator());
        updated.setName(what + ": updated shards").persist(StorageLevel.MEMORY_AND_DISK());
        List<Updated.Result> results;
        long optimizerNanos = 0;
        long driverIn = 0;
        Map<String, Long> out = new HashMap<>();
        int replicas = stateLevel.replication();
        sc.setJobDescription(what + ": optimizer on the shards");
        try {
            try {
                results = updated.map(u -> u.result()).collect();
            } catch (Exception e) {             // Spark's job failures are checked SparkExceptions
                throw lostState(what, e);
            }
            for (Updated.Result r : results) {
                optimizerNanos = Math.max(optimizerNanos, r.nanos());
                long sent = r.params() == null ? 0 : r.params().length;
                driverIn += sent;
                out.merge(r.executor(), sent + (replicas - 1) * r.stateBytes(), Long::sum);
            }
            JavaRDD<StateShard> next = updated.map(u -> u.state);
            keep(next, what + ": optimizer state");
            state = next;
        } finally {
            sc.setJobDescription(null);
            updated.unpersist(false);
        }
        previous.unpersist(false);
        destroyStateSources();
        discard();
        for (int m = 0; m < updates.length; m++) {
            if (!Float.isNaN(clip[m])) {
                updates[m]++;
            }
        }
        // Only now, with the new state kept and the old lineage gone, may the driver's arrays
        // change (in local mode they are the broadcast values the tasks read).
        for (int r = 0; r < results.size(); r++) {
            byte[] p = results.get(r).params();
            if (p != null) {
                Gradients.decodeInto(p, driverParams[sh.model[r]], sh.from[r]);
            }
        }
        return new Update(optimizerNanos / 1e9, driverIn, out);
    }

    @Override
    public void discard() {
        if (summed != null) {
            summed.unpersist(false);
            summed.rdd().cleanShuffleDependencies(false);
            summed = null;
        }
    }

    /** The current state shards, made first (zeros, or the restored state) on the first step. */
    private JavaRDD<StateShard> stateFor() {
        if (state != null) {
            return state;
        }
        Shards sh = shards;
        List<List<Broadcast<Floats>>> from = new ArrayList<>();
        int[] slots = new int[sizes.length];
        for (int m = 0; m < sizes.length; m++) {
            slots[m] = optimizers.get(m).stateSlots();
            List<Broadcast<Floats>> model = new ArrayList<>();
            if (restored[m] != null) {
                for (float[] slot : restored[m].slots()) {
                    model.add(Floats.broadcast(sc, slot));
                }
                updates[m] = restored[m].updates();
                restored[m] = null;
            }
            stateSources.addAll(model);
            from.add(model);
        }
        List<Integer> ids = new ArrayList<>();
        for (int r = 0; r < sh.count(); r++) {
            ids.add(r);
        }
        JavaRDD<StateShard> initial = sc.parallelize(ids, ids.size()).map(r -> StateShard.initial(r, sh, slots, from));
        keep(initial, "optimizer state");
        state = initial;
        return state;
    }

    /** Persists {@code rdd} at the state's level, cuts its lineage and materializes it. */
    private void keep(JavaRDD<StateShard> rdd, String name) {
        rdd.setName(name).persist(stateLevel);
        rdd.rdd().localCheckpoint();
        rdd.count();
    }

    /**
     * The error for a step whose optimizer shards were lost with every executor that held them
     * (Spark's CHECKPOINT_RDD_BLOCK_ID_NOT_FOUND), or {@code e} itself.
     */
    private RuntimeException lostState(String what, Exception e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (String.valueOf(t.getMessage()).contains("CHECKPOINT_RDD_BLOCK_ID_NOT_FOUND")) {
                return new IllegalStateException(what + ": a shard of the optimizer state (AdamW moments) was lost with "
                        + "the executor(s) that held it (storage level " + stateLevel.description() + "); the run "
                        + "cannot continue bit-identically: resume from its last checkpoint (--resume)", e);
            }
        }
        return e instanceof RuntimeException r ? r : new IllegalStateException(what + ": " + e.getMessage(), e);
    }

    private void destroyStateSources() {
        stateSources.forEach(x -> x.destroy());
        stateSources.clear();
    }

    @Override
    public OptimizerState state(int model) {
        if (restored[model] != null) {
            return restored[model];
        }
        float[][] slots = new float[optimizers.get(model).stateSlots()][sizes[model]];
        if (state != null) {
            Shards sh = shards;
            sc.setJobDescription("optimizer state to the driver");
            try {
                List<byte[][]> got = state.map(s -> sh.model[s.shard] == model ? s.encoded() : null).collect();
                for (int r = 0; r < got.size(); r++) {
                    if (got.get(r) != null) {
                        for (int j = 0; j < slots.length; j++) {
                            Gradients.decodeInto(got.get(r)[j], slots[j], sh.from[r]);
                        }
                    }
                }
            } finally {
                sc.setJobDescription(null);
            }
        }
        return new OptimizerState(slots, updates[model]);
    }

    @Override
    public void restore(int model, OptimizerState s) {
        if (state != null) {
            throw new IllegalStateException("the optimizer state is restored before the first step, not after");
        }
        s.requireShape(optimizers.get(model).stateSlots(), sizes[model]);
        restored[model] = s;
    }

    @Override
    public void close() {
        discard();
        destroyStateSources();
        if (state != null) {
            state.unpersist(false);
            state = null;
        }
    }

    // ---- what travels ----------------------------------------------------------------------

    /** The shards of every model, numbered r = 0..R-1 model after model: shard r is [from, to) of model[r]. */
    static final class Shards implements Serializable {
        private static final long serialVersionUID = 1L;
        final int[] model;
        final int[] from;
        final int[] to;

        private Shards(int[] model, int[] from, int[] to) {
            this.model = model;
            this.from = from;
            this.to = to;
        }

        static Shards of(int[] sizes, int perModel, int taskSlots) {
            List<int[]> all = new ArrayList<>();
            for (int m = 0; m < sizes.length; m++) {
                int wanted = perModel > 0 ? perModel
                        : (int) Math.max(taskSlots, (4L * sizes[m] + SHARD_BYTES - 1) / SHARD_BYTES);
                int[] b = bounds(sizes[m], wanted);
                for (int k = 0; k + 1 < b.length; k++) {
                    all.add(new int[] {m, b[k], b[k + 1]});
                }
            }
            int[] model = new int[all.size()], from = new int[all.size()], to = new int[all.size()];
            for (int r = 0; r < all.size(); r++) {
                model[r] = all.get(r)[0];
                from[r] = all.get(r)[1];
                to[r] = all.get(r)[2];
            }
            return new Shards(model, from, to);
        }

        int count() {
            return model.length;
        }
    }

    /** Sends piece r to reducer r. */
    static final class ByShard extends Partitioner {
        private static final long serialVersionUID = 1L;
        private final int shards;

        ByShard(int shards) {
            this.shards = shards;
        }

        @Override
        public int numPartitions() {
            return shards;
        }

        @Override
        public int getPartition(Object key) {
            return (Integer) key;
        }
    }

    /** One shard of one source partition's gradient (null when it has none for that model). */
    static final class Piece implements Serializable {
        private static final long serialVersionUID = 1L;
        final int source;
        final int partition;
        final int examples;
        final byte[] grads;
        final LossStats stats;
        final String executor;
        final long computeNanos;

        Piece(int source, int partition, int examples, byte[] grads, LossStats stats, long computeNanos) {
            this.source = source;
            this.partition = partition;
            this.examples = examples;
            this.grads = grads;
            this.stats = stats;
            this.executor = Partitions.executorId();
            this.computeNanos = computeNanos;
        }
    }

    /** What the driver learns of a summed shard. */
    static final class Summary implements Serializable {
        private static final long serialVersionUID = 1L;
        LossStats[] totals;
        int[] examples;
        boolean combined;
        double[] blockSums;
        long computeNanos;
        final Map<String, Long> sentBy = new HashMap<>();
        long receivedBytes;
        String executor;
    }

    /** Shard r of a model's step gradient: each source summed in partition order, then combined. */
    static final class Summed implements Serializable {
        private static final long serialVersionUID = 1L;
        final float[] grads;
        final Summary summary;

        private Summed(float[] grads, Summary summary) {
            this.grads = grads;
            this.summary = summary;
        }

        static Summed fold(int r, Shards sh, int[] partitions, Combine combine, Iterator<Tuple2<Integer, Piece>> pieces) {
            Partitions.useTaskCpus();
            int n = sh.to[r] - sh.from[r];
            int sources = partitions.length;
            float[][] acc = new float[sources][];
            Summary s = new Summary();
            s.executor = Partitions.executorId();
            s.totals = new LossStats[sources];
            s.examples = new int[sources];
            Piece[][] pending = new Piece[sources][];
            int[] next = new int[sources];
            for (int src = 0; src < sources; src++) {
                pending[src] = new Piece[partitions[src]];
            }
            while (pieces.hasNext()) {
                Piece p = pieces.next()._2();
                int src = p.source;
                pending[src][p.partition] = p;
                for (; next[src] < partitions[src] && pending[src][next[src]] != null; next[src]++) {
                    Piece q = pending[src][next[src]];
                    pending[src][next[src]] = null;
                    if (s.totals[src] == null) {
                        s.totals[src] = new LossStats(q.stats.extraCount());
                    }
                    s.totals[src].addAll(q.stats);
                    s.examples[src] += q.examples;
                    s.computeNanos = Math.max(s.computeNanos, q.computeNanos);
                    if (q.grads != null) {
                        if (acc[src] == null) {
                            acc[src] = new float[n];
                            Gradients.setEncoded(acc[src], q.grads, "shard " + r);
                        } else {
                            Gradients.addEncoded(acc[src], q.grads, "shard " + r);
                        }
                        s.sentBy.merge(q.executor, (long) q.grads.length, Long::sum);
                        s.receivedBytes += q.grads.length;
                    }
                }
            }
            for (int src = 0; src < sources; src++) {
                if (next[src] != partitions[src]) {
                    throw new IllegalStateException("gradient shard " + r + ": only " + next[src] + " of "
                            + partitions[src] + " partitions' pieces of source " + src + " arrived");
                }
            }
            double[] factors = combine.factors(s.totals)[sh.model[r]];
            float[] combined = new float[n];
            s.blockSums = new double[GradClip.blocks(n)];
            s.combined = DriverExchange.finite(factors);
            if (s.combined) {
                Gradients.combine(combined, acc, factors, s.blockSums);
            }
            return new Summed(combined, s);
        }
    }

    /** Shard r of the optimizer state. */
    static final class StateShard implements Serializable {
        private static final long serialVersionUID = 1L;
        final int shard;
        final float[][] slots;

        StateShard(int shard, float[][] slots) {
            this.shard = shard;
            this.slots = slots;
        }

        static StateShard initial(int r, Shards sh, int[] slots, List<List<Broadcast<Floats>>> from) {
            int m = sh.model[r];
            float[][] s = new float[slots[m]][];
            for (int j = 0; j < s.length; j++) {
                s[j] = from.get(m).isEmpty() ? new float[sh.to[r] - sh.from[r]]
                        : Arrays.copyOfRange(from.get(m).get(j).value().values(), sh.from[r], sh.to[r]);
            }
            return new StateShard(r, s);
        }

        byte[][] encoded() {
            byte[][] out = new byte[slots.length][];
            for (int j = 0; j < slots.length; j++) {
                out[j] = Gradients.encode(slots[j]);
            }
            return out;
        }
    }

    /** A shard after the optimizer: its new parameters (for the driver; null if not updated) and state. */
    static final class Updated implements Serializable {
        private static final long serialVersionUID = 1L;
        final byte[] params;
        final StateShard state;
        final long nanos;
        final String executor;

        private Updated(byte[] params, StateShard state, long nanos) {
            this.params = params;
            this.state = state;
            this.nanos = nanos;
            this.executor = Partitions.executorId();
        }

        /** What goes to the driver. */
        record Result(byte[] params, long nanos, String executor, long stateBytes) implements Serializable {
        }

        Result result() {
            long stateBytes = 0;
            for (float[] slot : state.slots) {
                stateBytes += 4L * slot.length;
            }
            return new Result(params, nanos, executor, params == null ? 0 : stateBytes);
        }

        /**
         * Copies of the cached gradient and state, not the cached objects themselves: a retried
         * task must find them as they were. A model whose clip factor is NaN keeps its state.
         */
        static Updated run(List<ElementwiseOptimizer> opts, Shards sh, StateShard st, Summed g,
                List<Broadcast<Floats>> params, float[] clip, int step, long[] updatesBefore) {
            long t0 = System.nanoTime();
            Partitions.useTaskCpus();
            int r = st.shard;
            int m = sh.model[r];
            if (Float.isNaN(clip[m])) {
                return new Updated(null, st, 0);
            }
            float[] p = Arrays.copyOfRange(params.get(m).value().values(), sh.from[r], sh.to[r]);
            float[] grads = g.grads.clone();
            GradClip.multiply(grads, clip[m]);
            float[][] slots = new float[st.slots.length][];
            for (int j = 0; j < slots.length; j++) {
                slots[j] = st.slots[j].clone();
            }
            opts.get(m).update(p, grads, slots, sh.from[r], step, updatesBefore[m]);
            return new Updated(Gradients.encode(p), new StateShard(r, slots), System.nanoTime() - t0);
        }
    }
}
