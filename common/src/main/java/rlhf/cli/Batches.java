package rlhf.cli;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * A partition's rows processed in batches of up to {@code size}: {@code fn} turns a batch of
 * rows into their output lines (in order), and the lines are handed out lazily, so a partition
 * is never held in memory whole.
 */
final class Batches implements Iterator<String> {

    /** Output lines of one batch of input rows, in the same order. */
    @FunctionalInterface
    interface BatchFn {
        List<String> apply(List<InputRow> rows) throws Exception;
    }

    private final Iterator<InputRow> rows;
    private final int size;
    private final BatchFn fn;
    private final List<InputRow> batch;
    private Iterator<String> out = Collections.emptyIterator();

    Batches(Iterator<InputRow> rows, int size, BatchFn fn) {
        this.rows = rows;
        this.size = size;
        this.fn = fn;
        this.batch = new ArrayList<>(size);
    }

    @Override
    public boolean hasNext() {
        while (!out.hasNext() && rows.hasNext()) {
            batch.clear();
            while (batch.size() < size && rows.hasNext()) {
                batch.add(rows.next());
            }
            try {
                out = fn.apply(batch).iterator();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e.getMessage(), e);
            }
        }
        return out.hasNext();
    }

    @Override
    public String next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        return out.next();
    }
}
