package rlhf.cli;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Supplier;

import rlhf.model.GptConfig;

/**
 * Per-JVM pool of model workspaces (a {@code Gpt} with its buffers, a generator with its KV
 * cache), keyed by what determines their size: a task borrows one for a batch and gives it back,
 * so an executor running k tasks at once allocates k workspaces per shape and reuses them for
 * every later batch and task. Shapes are bucketed ({@link #bucket}) to keep the number of keys
 * small.
 */
final class Workspaces {

    private static final Map<Shape, ConcurrentLinkedQueue<Object>> FREE = new ConcurrentHashMap<>();

    private Workspaces() {
    }

    /** What a workspace's size depends on: its kind, the model shape, rows, tokens, and one more size (or 0). */
    record Shape(String kind, GptConfig cfg, int maxB, int maxT, int extra) {}

    @SuppressWarnings("unchecked")
    static <T> T borrow(Shape key, Supplier<T> factory) {
        Object s = FREE.computeIfAbsent(key, k -> new ConcurrentLinkedQueue<>()).poll();
        return s != null ? (T) s : factory.get();
    }

    static void release(Shape key, Object workspace) {
        FREE.computeIfAbsent(key, k -> new ConcurrentLinkedQueue<>()).add(workspace);
    }

    /** The workspace length for sequences of up to n tokens: the next power of two >= max(n, 16), at most max. */
    static int bucket(int n, int max) {
        int b = 16;
        while (b < n) {
            b <<= 1;
        }
        return Math.min(b, max);
    }
}
