package rlhf.dpo;

import java.io.Serializable;

import rlhf.data.PromptGroup;

/**
 * One DPO training example: a prompt group (K answers, the pairs among them) and the reference
 * model's log-probability of each answer's response tokens (response + EOS, after the prompt),
 * computed once before training ({@link ReferenceLogprobs}).
 *
 * @param refLogp (K) Σ_t log π_ref(y_t | prompt, y_&lt;t) of each answer
 */
public record DpoExample(PromptGroup group, double[] refLogp) implements Serializable {

    public DpoExample {
        if (refLogp.length != group.answers()) {
            throw new IllegalArgumentException(group.where() + ": " + refLogp.length + " reference log-probabilities for "
                    + group.answers() + " answers");
        }
    }
}
