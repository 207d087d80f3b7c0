package rlhf.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.UUID;

import org.apache.spark.Partitioner;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.ShuffledRDD;
import org.apache.spark.serializer.JavaSerializer;
import org.apache.spark.storage.BlockManager;
import org.apache.spark.storage.RDDBlockId;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.TaskCompletionListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.optim.ElementwiseOptimizer;
import rlhf.optim.GradClip;
import rlhf.optim.OptimizerState;
import scala.Tuple2;
import scala.reflect.ClassTag$;

/**
 * The exchange without a driver bottleneck (ZeRO-1 style): gradients are reduce-scattered through
 * Spark's shuffle, the optimizers run shard by shard on the executors, which keep their state and
 * the parameters' shards, and each executor gathers the parameters from its peers' shards.
 *
 * <pre>
 * first step: the caller's arrays cut into R shards, kept on the executors (replicated)
 * step s, each task's parameters: the R shards gathered from the block managers, once per executor
 *   job 1  map:    each source's partition: its gradients, cut at the shard bounds of every model
 *                  -> one piece per shard (R in all), shuffled by shard; pulled one at a time
 *          reduce: shard r of model m = for each source, 0 + piece(partition 0) + piece(partition 1)
 *                  + ... (partition order), then the sources added in order, each scaled by its
 *                  factor (every piece carries its partition's loss sums, so each reducer derives
 *                  the same factors); kept (MEMORY_AND_DISK); its per-block sums of squares to
 *                  the driver
 *   driver: each model's norm = sqrt(its block sums in order), the clip factors, the checks
 *   job 2  shard r: optimizer on (params r, clipped gradient r, state r) -> new params r and state r
 *   jobs 3, 4  the new state and the new parameter shards kept, each with one replica on another
 *          executor (StorageLevel ..._2), their lineage cut (local checkpoint); the previous ones,
 *          the gradient shards and the shuffle files go
 * </pre>
 *
 * <p>Per step the driver receives no parameters or gradients at all (the caller's array is
 * brought up to date by {@link #pull}, a gather of the shards, when it is read: checkpoints,
 * evaluation); it holds the caller's arrays (4 bytes per parameter), never a gradient or a moment.
 * Each executor sends its partitions' gradients into the shuffle and receives, for its shards,
 * one piece per partition, then gathers the other shards' new parameters: per-node traffic stays
 * about constant as executors are added, as in a ring reduce-scatter and all-gather.
 *
 * <p>Determinism: shard bounds are multiples of {@link GradClip#NORM_BLOCK}; sums run in partition
 * order from zero, sources are added in order, the optimizer is elementwise: the bits are those
 * of {@link DriverExchange} for any number of shards. Retried tasks recompute the same pieces; a
 * lost executor's map outputs and gradient shards are recomputed from their lineage, and its
 * optimizer and parameter shards are read from their replicas. Losing a shard and its replica at
 * once (both executors) fails the step with a message: resume from the last checkpoint.
 */
final class ShardedExchange implements Exchange {

    private static final Logger LOG = LoggerFactory.getLogger(ShardedExchange.class);

    /** Gradient shards of about this size (and at least one per task slot). */
    static final long SHARD_BYTES = 128L << 20;

    private final JavaSparkContext sc;
    private final List<ElementwiseOptimizer> optimizers;
    private final int[] sizes;
    private final Shards shards;
    private final StorageLevel stateLevel;
    /** Where the parameter shards live: serialized (a peer's read ships the stored bytes), same replicas as the state. */
    private final StorageLevel paramLevel;
    /** Names this exchange's gathered parameters in the executors' caches. */
    private final String id = UUID.randomUUID().toString();
    /** The caller's arrays: where the parameters start, and where {@link #pull} brings them. */
    private final float[][] driverParams;
    /** driverBehind[m]: the shards of model m have moved on since its array was last pulled. */
    private final boolean[] driverBehind;
    /** The parameters' shards (R partitions, shard r = partition r), or null before the first step. */
    private JavaRDD<Floats> params;
    /** The optimizers' shards (R partitions, shard r = partition r), or null before the first step. */
    private JavaRDD<StateShard> state;
    /** Set by {@link #restore}, made into {@link #state} at the first step. */
    private final OptimizerState[] restored;
    private final long[] updates;
    private JavaRDD<Summed> summed;

    /**
     * @param params         the caller's arrays, one per model
     * @param shardsPerModel shards of each model; 0: one per {@link #SHARD_BYTES}, at least one per task slot
     * @param stateLevel     where the optimizer state lives; {@code MEMORY_AND_DISK_2} keeps a replica
     */
    ShardedExchange(JavaSparkContext sc, List<ElementwiseOptimizer> optimizers, float[][] params, int shardsPerModel,
            StorageLevel stateLevel) {
        this.sc = sc;
        this.optimizers = List.copyOf(optimizers);
        this.driverParams = params.clone();
        this.sizes = new int[params.length];
        for (int m = 0; m < params.length; m++) {
            sizes[m] = params[m].length;
        }
        int taskSlots = Math.max(1, sc.defaultParallelism() / Math.max(1, sc.getConf().getInt("spark.task.cpus", 1)));
        this.shards = Shards.of(sizes, shardsPerModel, taskSlots);
        this.stateLevel = stateLevel;
        this.paramLevel = StorageLevel.apply(true, true, false, false, stateLevel.replication());
        this.driverBehind = new boolean[sizes.length];
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
    public Params params(int model) {
        return new ParamShards(id + "/" + model, paramShards().id(), shards, model, sizes[model]);
    }

    @Override
    public void pull(int model) {
        if (!driverBehind[model]) {
            return;
        }
        if (params == null) {
            throw new IllegalStateException("the parameters of model " + model + " could not be gathered before the "
                    + "exchange was closed: the caller's array holds older ones");
        }
        try {
            new ParamShards(null, params.id(), shards, model, sizes[model]).gatherInto(driverParams[model]);
        } catch (RuntimeException e) {
            throw lostState("the parameters to the driver", e);
        }
        driverBehind[model] = false;
    }

    @Override
    public Reduced reduce(String what, List<Source<?>> sources, List<Params> params, Combine combine) {
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
        // Java serialization keeps every object a stream wrote (and read) until it is reset, by
        // default every 100 objects: each of a map task's per-shard streams would hold its piece,
        // a whole gradient's worth of bytes per task. Reset after every piece.
        ((ShuffledRDD<?, ?, ?>) shuffled.rdd()).setSerializer(
                new JavaSerializer(sc.getConf().clone().set("spark.serializer.objectStreamReset", "1")));
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
    private static <T> JavaRDD<Tuple2<Integer, Piece>> pieces(Source<T> source, int s, List<Params> params,
            Shards sh) {
        SourceTask<T> task = source.task();
        List<Params> ps = new ArrayList<>(params);
        return source.data().mapPartitionsWithIndex((p, rows) -> {
            Partial partial = task.run(p, rows, Params.values(ps));
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
    public Update update(String what, float[] clip, int step) {
        JavaRDD<StateShard> previous = stateFor();
        JavaRDD<Floats> previousParams = paramShards();
        Shards sh = shards;
        List<ElementwiseOptimizer> opts = optimizers;
        long[] done = updates.clone();
        float[] clips = clip.clone();
        JavaRDD<Tuple2<StateShard, Floats>> inputs = previous.zipPartitions(previousParams,
                (st, p) -> List.of(new Tuple2<>(st.next(), p.next())).iterator());
        JavaRDD<Updated> updated = inputs.zipPartitions(summed, (in, g) -> {
            Tuple2<StateShard, Floats> sp = in.next();
            return List.of(Updated.run(opts, sh, sp._1(), sp._2(), g.next(), clips, step, done)).iterator();
        });
        updated.setName(what + ": updated shards").persist(StorageLevel.MEMORY_AND_DISK());
        long optimizerNanos = 0;
        Map<String, Long> out = new HashMap<>();
        int replicas = stateLevel.replication();
        sc.setJobDescription(what + ": optimizer on the shards");
        try {
            List<Updated.Result> results;
            try {
                results = updated.map(u -> u.result()).collect();
            } catch (Exception e) {             // Spark's job failures are checked SparkExceptions
                throw lostState(what, e);
            }
            for (Updated.Result r : results) {
                optimizerNanos = Math.max(optimizerNanos, r.nanos());
                out.merge(r.executor(), (replicas - 1) * r.keptBytes(), Long::sum);
            }
            JavaRDD<StateShard> nextState = updated.map(u -> u.state);
            keep(nextState, what + ": optimizer state", stateLevel);
            state = nextState;
            JavaRDD<Floats> nextParams = updated.map(u -> u.params);
            keep(nextParams, what + ": parameter shards", paramLevel);
            params = nextParams;
        } finally {
            sc.setJobDescription(null);
            updated.unpersist(false);
        }
        previous.unpersist(false);
        previousParams.unpersist(false);
        discard();
        for (int m = 0; m < updates.length; m++) {
            if (!Float.isNaN(clip[m])) {
                updates[m]++;
                driverBehind[m] = true;
            }
        }
        return new Update(optimizerNanos / 1e9, 0, out, false);
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
        List<StateStart> initial = new ArrayList<>();
        for (int r = 0; r < sh.count(); r++) {
            int m = sh.model[r];
            Object[] slots = new Object[optimizers.get(m).stateSlots()];
            for (int j = 0; j < slots.length; j++) {
                slots[j] = restored[m] == null ? null : new Slice(restored[m].slots()[j], sh.from[r], sh.to[r]);
            }
            initial.add(new StateStart(r, sh.to[r] - sh.from[r], slots));
        }
        for (int m = 0; m < sizes.length; m++) {
            if (restored[m] != null) {
                updates[m] = restored[m].updates();
                restored[m] = null;
            }
        }
        JavaRDD<StateShard> rdd = sc.parallelize(initial, initial.size()).map(StateStart::make);
        keep(rdd, "optimizer state", stateLevel);
        state = rdd;
        return state;
    }

    /**
     * The current parameter shards, cut from the caller's arrays on the first call. Each task of
     * that job gets its shard inside the task (a slice serialized straight from the caller's array):
     * the driver makes no copy and no single message carries more than one shard.
     */
    private JavaRDD<Floats> paramShards() {
        if (params != null) {
            return params;
        }
        Shards sh = shards;
        List<Object> slices = new ArrayList<>();     // Objects: they arrive as Floats
        for (int r = 0; r < sh.count(); r++) {
            slices.add(new Slice(driverParams[sh.model[r]], sh.from[r], sh.to[r]));
        }
        JavaRDD<Floats> rdd = sc.parallelize(slices, slices.size()).map(x -> Slice.floats(x));
        keep(rdd, "parameter shards", paramLevel);
        params = rdd;
        return params;
    }

    /** Persists {@code rdd} at {@code level}, cuts its lineage and materializes it. */
    private void keep(JavaRDD<?> rdd, String name, StorageLevel level) {
        rdd.setName(name).persist(level);
        rdd.rdd().localCheckpoint();
        rdd.count();
    }

    /**
     * The error for a step whose optimizer shards were lost with every executor that held them
     * (Spark's CHECKPOINT_RDD_BLOCK_ID_NOT_FOUND), or {@code e} itself.
     */
    private RuntimeException lostState(String what, Exception e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = String.valueOf(t.getMessage());
            if (message.contains("CHECKPOINT_RDD_BLOCK_ID_NOT_FOUND") || message.contains(ParamShards.LOST)) {
                return new IllegalStateException(what + ": a shard of the optimizer state (AdamW moments) or of the "
                        + "parameters was lost with the executor(s) that held it (storage level "
                        + stateLevel.description() + "); the run cannot continue bit-identically: resume from its "
                        + "last checkpoint (--resume)", e);
            }
        }
        return e instanceof RuntimeException r ? r : new IllegalStateException(what + ": " + e.getMessage(), e);
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
                // shard by shard (one job each, in shard order): the driver holds the slots and one
                // shard's bytes, where collecting every shard at once would double the slots
                Iterator<byte[][]> got = state.map(s -> sh.model[s.shard] == model ? s.encoded() : null).toLocalIterator();
                for (int r = 0; got.hasNext(); r++) {
                    byte[][] shard = got.next();
                    if (shard != null) {
                        for (int j = 0; j < slots.length; j++) {
                            Gradients.decodeInto(shard[j], slots[j], sh.from[r]);
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

    /** Pulls every model first: after close the caller's arrays hold the last parameters. */
    @Override
    public void close() {
        discard();
        try {
            for (int m = 0; m < sizes.length; m++) {
                pull(m);
            }
        } catch (RuntimeException e) {
            LOG.warn("the last parameters could not be gathered into the caller's arrays on close: {}", e.getMessage());
        }
        if (state != null) {
            state.unpersist(false);
            state = null;
        }
        if (params != null) {
            params.unpersist(false);
            params = null;
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

    /**
     * [from, to) of an array on the driver, which Java serialization writes as that range alone
     * (a {@link Floats}): the driver cuts a model into shards without holding a copy. Read it back
     * with {@link #floats}, which also takes a Slice that a serializer did not replace.
     */
    static final class Slice implements Serializable {
        private static final long serialVersionUID = 1L;
        private final float[] whole;
        private final int from;
        private final int to;

        Slice(float[] whole, int from, int to) {
            this.whole = whole;
            this.from = from;
            this.to = to;
        }

        private Object writeReplace() {
            return new Floats(Arrays.copyOfRange(whole, from, to));
        }

        /** What a Slice became after it travelled. */
        static Floats floats(Object travelled) {
            return travelled instanceof Floats f ? f : (Floats) ((Slice) travelled).writeReplace();
        }
    }

    /**
     * What the first state of shard r is made from: the restored slots' ranges ({@link Slice}s;
     * Object[] since they arrive as Floats), or zeros (null).
     */
    record StateStart(int shard, int size, Object[] slots) implements Serializable {
        StateShard make() {
            float[][] s = new float[slots.length][];
            for (int j = 0; j < s.length; j++) {
                s[j] = slots[j] == null ? new float[size] : Slice.floats(slots[j]).values();
            }
            return new StateShard(shard, s);
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

        byte[][] encoded() {
            byte[][] out = new byte[slots.length][];
            for (int j = 0; j < slots.length; j++) {
                out[j] = Gradients.encode(slots[j]);
            }
            return out;
        }
    }

    /** A shard after the optimizer: its new parameters and state (the old ones if not updated). */
    static final class Updated implements Serializable {
        private static final long serialVersionUID = 1L;
        final Floats params;
        final StateShard state;
        final long nanos;
        final String executor;

        private Updated(Floats params, StateShard state, long nanos) {
            this.params = params;
            this.state = state;
            this.nanos = nanos;
            this.executor = Partitions.executorId();
        }

        /** What goes to the driver: the optimizer's time, and the bytes kept (replicated) for this shard. */
        record Result(long nanos, String executor, long keptBytes) implements Serializable {
        }

        Result result() {
            long bytes = 4L * params.values().length;
            for (float[] slot : state.slots) {
                bytes += 4L * slot.length;
            }
            return new Result(nanos, executor, bytes);
        }

        /**
         * Copies of the cached parameters and state, not the cached objects themselves (the
         * gradient is only read): a retried task must find them as they were. A model whose clip
         * factor is NaN keeps both.
         */
        static Updated run(List<ElementwiseOptimizer> opts, Shards sh, StateShard st, Floats params, Summed g,
                float[] clip, int step, long[] updatesBefore) {
            long t0 = System.nanoTime();
            Partitions.useTaskCpus();
            int r = st.shard;
            int m = sh.model[r];
            if (Float.isNaN(clip[m])) {
                return new Updated(params, st, 0);
            }
            float[] p = params.values().clone();
            float[][] slots = new float[st.slots.length][];
            for (int j = 0; j < slots.length; j++) {
                slots[j] = st.slots[j].clone();
            }
            opts.get(m).update(p, g.grads, clip[m], slots, sh.from[r], step, updatesBefore[m]);
            return new Updated(new Floats(p), new StateShard(r, slots), System.nanoTime() - t0);
        }
    }

    /**
     * A model's parameters as the exchange's shards: the step's tasks gather them from the block
     * managers (their own executor's, where a shard or its replica is local, else a peer's), once
     * per executor and step; the driver gathers them the same way into the caller's array.
     */
    static final class ParamShards implements Params {
        private static final long serialVersionUID = 1L;
        /** In the message of a task that found a shard gone (see {@link #lostState}). */
        static final String LOST = "parameter shard lost";
        /** Gathered parameters per executor: the last two models (PPO's policy and critic). */
        private static final Map<String, Gathered> GATHERED = new LinkedHashMap<>(4, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Gathered> eldest) {
                return size() > 2;
            }
        };

        private final String key;
        private final int rddId;
        private final int[] shardIds;
        private final int[] from;
        private final int size;

        /** @param key names the model in the executors' cache (null: do not cache) */
        ParamShards(String key, int rddId, Shards sh, int model, int size) {
            this.key = key;
            this.rddId = rddId;
            int n = 0;
            for (int r = 0; r < sh.count(); r++) {
                n += sh.model[r] == model ? 1 : 0;
            }
            this.shardIds = new int[n];
            this.from = new int[n];
            for (int r = 0, k = 0; r < sh.count(); r++) {
                if (sh.model[r] == model) {
                    shardIds[k] = r;
                    from[k++] = sh.from[r];
                }
            }
            this.size = size;
        }

        private record Gathered(int rddId, float[] values) {
        }

        /**
         * The parameters, gathered by the first task of the step on this executor. The previous
         * step's array is overwritten, not replaced: a second array of a large model's size may
         * not fit beside the gradient buffer. That is safe because steps run one after the other:
         * when a step's tasks start, the previous step's jobs have ended.
         */
        @Override
        public float[] value() {
            synchronized (GATHERED) {
                Gathered g = GATHERED.get(key);
                if (g != null && g.rddId == rddId) {
                    return g.values;
                }
                float[] values = g != null && g.values.length == size ? g.values : new float[size];
                GATHERED.remove(key);
                gatherInto(values);
                GATHERED.put(key, new Gathered(rddId, values));
                return values;
            }
        }

        /** Reads every shard of the model from the block managers into {@code out}. */
        void gatherInto(float[] out) {
            BlockManager bm = SparkEnv.get().blockManager();
            for (int k = 0; k < shardIds.length; k++) {
                RDDBlockId block = new RDDBlockId(rddId, shardIds[k]);
                Floats shard = Partitions.singleValue(bm.get(block, ClassTag$.MODULE$.apply(Floats.class)));
                if (shard == null) {
                    throw new IllegalStateException(LOST + ": " + block + " is on no live executor");
                }
                System.arraycopy(shard.values(), 0, out, from[k], shard.values().length);
            }
        }

        /** Nothing to free: the shards are the exchange's. */
        @Override
        public void release() {
        }
    }
}
