package rlhf.data;

import java.io.Serializable;

/**
 * One SFT example: the prompt text (template already applied) and the response the model learns
 * to produce. {@code source} and {@code row} locate the input row (file or table, 1-based record
 * number within it) so later errors (e.g. too long for the context) can name it.
 */
public record Demonstration(String prompt, String response, String source, long row) implements Serializable {
    /** "file row N", for messages. */
    public String where() {
        return source + " row " + row;
    }
}
