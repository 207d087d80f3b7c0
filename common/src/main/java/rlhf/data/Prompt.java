package rlhf.data;

import java.io.Serializable;

/** A PPO prompt (template already applied) that the policy completes during rollouts. */
public record Prompt(String prompt, String source, long row) implements Serializable {
    public String where() {
        return source + " row " + row;
    }
}
