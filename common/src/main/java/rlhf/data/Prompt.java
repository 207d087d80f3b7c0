package rlhf.data;

import java.io.Serializable;

/**
 * A prompt (template already applied) that the policy completes during rollouts, and the row's
 * reference answer (its {@code reference} column) that rules such as exact match compare with,
 * or null.
 */
public record Prompt(String prompt, String source, long row, String reference) implements Serializable {
    public String where() {
        return source + " row " + row;
    }
}
