package rlhf.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;

/**
 * The thread pool the kernels split their work over.
 *
 * <p>Size from the system property {@code rlhf.threads} (default: available processors). In
 * Spark, a task that owns several cores ({@code spark.task.cpus}) sets it to that number; on
 * {@code local[N]} with N tasks per JVM set it to 1 so tasks don't fight over cores.
 */
public final class Parallel {

    private static volatile ForkJoinPool pool = newPool(defaultThreads());

    private Parallel() {
    }

    /** Body of a parallel loop over the half-open range [from, to). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    public static int defaultThreads() {
        String s = System.getProperty("rlhf.threads");
        int n = s == null || s.isBlank() ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(s.trim());
        return Math.max(1, n);
    }

    public static int threads() {
        return pool.getParallelism();
    }

    /** Replace the pool with one of {@code n} threads (benchmarks, executors with spark.task.cpus). */
    public static synchronized void setThreads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("threads must be >= 1, found " + n);
        }
        if (n != pool.getParallelism()) {
            ForkJoinPool old = pool;
            pool = newPool(n);
            old.shutdown();
        }
    }

    /**
     * Runs body over [0, n) split into at most {@code threads()} contiguous chunks whose
     * boundaries are multiples of {@code grain}. Runs inline when one chunk suffices. The split
     * depends only on n, grain and the thread count, so results are deterministic as long as
     * each index is owned by exactly one chunk.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        int threads = pool.getParallelism();
        int units = (n + grain - 1) / grain;
        int chunks = Math.min(threads, units);
        if (chunks <= 1 || ForkJoinTask.getPool() == pool) {
            body.run(0, n);
            return;
        }
        int unitsPerChunk = (units + chunks - 1) / chunks;
        int step = unitsPerChunk * grain;
        pool.invoke(new RecursiveAction() {
            @Override
            protected void compute() {
                RecursiveAction[] tasks = new RecursiveAction[chunks];
                int count = 0;
                for (int start = step; start < n; start += step) {
                    final int from = start;
                    final int to = Math.min(n, start + step);
                    tasks[count++] = new RecursiveAction() {
                        @Override
                        protected void compute() {
                            body.run(from, to);
                        }
                    };
                }
                for (int i = 0; i < count; i++) {
                    tasks[i].fork();
                }
                body.run(0, Math.min(n, step));
                for (int i = count - 1; i >= 0; i--) {
                    tasks[i].join();
                }
            }
        });
    }

    private static ForkJoinPool newPool(int n) {
        return new ForkJoinPool(n, p -> {
            var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
            t.setDaemon(true);
            t.setName("rlhf-kernel-" + t.getPoolIndex());
            return t;
        }, null, false);
    }
}
