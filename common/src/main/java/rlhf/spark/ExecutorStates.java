package rlhf.spark;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Supplier;

/**
 * Per-JVM cache of executor states (model workspaces, gradient buffers, generators with their KV
 * caches) that outlive tasks, keyed by what determines their size.
 *
 * <p>A task borrows a state for its duration and gives it back; a JVM running k tasks at once ends
 * up with k states per key, each reused by every later task, so nothing big is allocated per step.
 * Static, hence per JVM: on an executor it lives as long as the executor; in local mode it is the
 * driver's JVM.
 */
public final class ExecutorStates {

    private static final Map<Object, ConcurrentLinkedQueue<Object>> FREE = new ConcurrentHashMap<>();

    private ExecutorStates() {
    }

    /**
     * A free state under {@code key}, made by {@code factory} if none is free. Give it back with
     * {@link #release}. Keys are compared by {@code equals}: a String, or a record of the sizes.
     */
    @SuppressWarnings("unchecked")
    public static <T> T borrow(Object key, Supplier<T> factory) {
        Object s = FREE.computeIfAbsent(key, k -> new ConcurrentLinkedQueue<>()).poll();
        return s != null ? (T) s : factory.get();
    }

    public static void release(Object key, Object state) {
        FREE.computeIfAbsent(key, k -> new ConcurrentLinkedQueue<>()).add(state);
    }

    /** Drops every cached state of {@code key} (tests; a job that changes model shape). */
    public static void clear(Object key) {
        FREE.remove(key);
    }
}
