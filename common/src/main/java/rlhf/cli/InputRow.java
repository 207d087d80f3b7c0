package rlhf.cli;

import java.io.Serializable;

/**
 * One line of a JSON-lines input: its text, where it came from (for error messages) and its
 * global row id, the 0-based index of the line in the concatenation of the input files (sorted by
 * path). The id depends on the files only, not on how Spark splits them, so anything seeded by it
 * (sampling) gives the same result however the job is partitioned.
 *
 * @param line 1-based line number within {@code file}
 */
public record InputRow(long id, String file, long line, String text) implements Serializable {

    /** "FILE line N", how messages name this row. */
    public String where() {
        return file + " line " + line;
    }
}
