package rlhf.cli;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * A partition's rows processed in batches of up to {@code size}: {@code fn} turns a batch of
 * rows into their output lines (in order), and the lines are handed out lazily, so a partition
 * is never held in memory whole.
 *
 * <p>Rows are read a window of {@value #WINDOW} batches at a time and batched in order of their
 * line length, so that rows of similar length share a batch and little of a forward pass is
 * padding; the output keeps the input order. Results never depend on the grouping (sampling is
 * seeded per row, and padding is never attended to).
 */
final class Batches implements Iterator<String> {

    /** Batches per window. */
    static final int WINDOW = 8;

    /** Output lines of one batch of input rows, in the same order. */
    @FunctionalInterface
    interface BatchFn {
        List<String> apply(List<InputRow> rows) throws Exception;
    }

    private final Iterator<InputRow> rows;
    private final int size;
    private final BatchFn fn;
    private final List<InputRow> window;
    private final List<InputRow> batch;
    private String[] out = new String[0];
    private int outCount;
    private int outNext;

    Batches(Iterator<InputRow> rows, int size, BatchFn fn) {
        this.rows = rows;
        this.size = size;
        this.fn = fn;
        this.window = new ArrayList<>(size * WINDOW);
        this.batch = new ArrayList<>(size);
    }

    @Override
    public boolean hasNext() {
        if (outNext == outCount && rows.hasNext()) {
            fill();
        }
        return outNext < outCount;
    }

    /** Reads the next window and runs its batches, shortest lines first. */
    private void fill() {
        window.clear();
        while (window.size() < size * WINDOW && rows.hasNext()) {
            window.add(rows.next());
        }
        int n = window.size();
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> Integer.compare(window.get(a).text().length(),
                window.get(b).text().length()));
        if (out.length < n) {
            out = new String[n];
        }
        for (int from = 0; from < n; from += size) {
            batch.clear();
            int to = Math.min(n, from + size);
            for (int k = from; k < to; k++) {
                batch.add(window.get(order[k]));
            }
            List<String> lines;
            try {
                lines = fn.apply(batch);
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e.getMessage(), e);
            }
            for (int k = from; k < to; k++) {
                out[order[k]] = lines.get(k - from);
            }
        }
        outCount = n;
        outNext = 0;
    }

    @Override
    public String next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        String s = out[outNext];
        out[outNext++] = null;
        return s;
    }
}
